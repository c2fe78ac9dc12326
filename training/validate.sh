#!/usr/bin/env bash
# Held-out test of the shipped design with `routoo eval`: trains a bundle on the training rows
# only, then evaluates it on the validation rows for each target. Writes training/work/eval/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=training/.venv/bin/python
W=training/work
$PY training/split.py
$PY training/train.py --fit-on train --out $W/bundle-train
$PY - <<'PY'
import json
pool = json.load(open("www/pool.json"))
pool["expectedOutputTokens"] = 1  # MMLU answers are one letter
json.dump(pool, open("training/work/pool-mmlu.json", "w"), indent=1)
PY
cargo build --release --bin routoo
R="./target/release/routoo eval --bundle $W/bundle-train --json"
mkdir -p $W/eval
MMLU9=gpt-4-1106-preview,mixtral-8x7b-instruct,mistral-7b-v0.1,metamath-mistral-7b,chinese-mistral-7b-v0.1,zephyr-7b-beta,dolphin-2.6-mistral-7b,llama-3-8b,dolphin-2.9-llama3-8b
OPEN=${MMLU9#gpt-4-1106-preview,}
for pool in pool-mmlu www; do
  p=$W/pool-mmlu.json; [ $pool = www ] && p=www/pool.json
  time $R --pool $p --data $W/validation/mmlu.csv --models $MMLU9 > $W/eval/mmlu9-$pool.json
  $R --pool $p --data $W/validation/mmlu.csv --models $OPEN > $W/eval/mmlu-open-$pool.json
  $R --pool $p --data $W/validation/mmlu.csv \
    --models gpt-4-1106-preview,mixtral-8x7b-instruct > $W/eval/mmlu2-$pool.json
done
$R --data $W/validation/routerbench.csv > $W/eval/routerbench.json
$R --data $W/validation/gsm8k.csv > $W/eval/gsm8k.json

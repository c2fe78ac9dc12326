#!/usr/bin/env bash
# Held-out test of the shipped design with `routoo eval`: trains a bundle without fold 0 (the
# grouped folds of training/space.py), then evaluates it on fold 0 of every table. Writes
# training/work/eval/. MMLU is priced at one output token (its answers are one letter).
# TRAIN_ARGS passes more options to train.py, and NAME (default "eval") names the output folder
# (and the bundle, "bundle-train" for "eval", else "bundle-NAME").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=training/.venv/bin/python
W=training/work
NAME=${NAME:-eval}
BUNDLE=$W/bundle-train
[ "$NAME" = eval ] || BUNDLE=$W/bundle-$NAME
$PY training/split.py
# shellcheck disable=SC2086 # TRAIN_ARGS is a list of options
$PY training/train.py --fit-on train --out $BUNDLE ${TRAIN_ARGS:-}
$PY - <<'PY'
import json
pool = json.load(open("www/pool.json"))
pool["expectedOutputTokens"] = 1  # MMLU answers are one letter
json.dump(pool, open("training/work/pool-mmlu.json", "w"), indent=1)
PY
cargo build --release --bin routoo
R="./target/release/routoo eval --bundle $BUNDLE --json"
mkdir -p $W/$NAME
MMLU9=gpt-4-1106-preview,mixtral-8x7b-instruct,mistral-7b-v0.1,metamath-mistral-7b,chinese-mistral-7b-v0.1,zephyr-7b-beta,dolphin-2.6-mistral-7b,llama-3-8b,dolphin-2.9-llama3-8b
OPEN=${MMLU9#gpt-4-1106-preview,}
P=$W/pool-mmlu.json
$R --pool $P --data $W/validation/mmlu.csv --models $MMLU9 > $W/$NAME/mmlu9.json
$R --pool $P --data $W/validation/mmlu.csv --models $OPEN > $W/$NAME/mmlu-open.json
$R --pool $P --data $W/validation/mmlu.csv --models gpt-4-1106-preview,mixtral-8x7b-instruct > $W/$NAME/mmlu2.json
$R --pool $P --data $W/validation/gsm8k.csv > $W/$NAME/gsm8k.json
for t in routerbench zeroeval mmlu-pro; do
  $R --data $W/validation/$t.csv > $W/$NAME/$t.json
done
$PY training/summary.py $W/$NAME

"""Prints the target figures from the `routoo eval --json` outputs of training/validate.sh."""

import json
import pathlib
import sys

from data import ROOT

GPT4, MIXTRAL = "gpt-4-1106-preview", "mixtral-8x7b-instruct"


def at_cost(rep, budget):
    """The router's best accuracy at a mean cost within `budget` (NaN when it has no point)."""
    ok = [p["accuracy"] for p in rep["curve"] if p["mean_cost"] <= budget]
    return max(ok) if ok else float("nan")


def main():
    # The folder of `routoo eval --json` outputs: the first argument, or training/work/eval.
    evals = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "training" / "work" / "eval"
    for pool in ("",):
        print("## MMLU (one output token)")
        r = json.loads((evals / f"mmlu9{pool}.json").read_text())
        g = r["models"][GPT4]
        print(f"9 models ({r['rows']} rows): GPT-4 acc {g['accuracy']:.4f}; cost to match GPT-4 "
              f"{r['cost_to_match'][GPT4]}; at 0.5x GPT-4 cost: "
              f"{at_cost(r, 0.5 * g['mean_cost']) - g['accuracy']:+.4f}; AIQ {r['aiq']:.4f}; "
              f"oracle {r['oracle']['accuracy']:.4f}")
        r = json.loads((evals / f"mmlu-open{pool}.json").read_text())
        m = r["models"][MIXTRAL]
        print(f"open pool ({r['rows']} rows): Mixtral acc {m['accuracy']:.4f}; cost to match "
              f"{r['cost_to_match'][MIXTRAL]}; gain at Mixtral cost "
              f"{r['gain_at_cost'][MIXTRAL]:+.4f}; AIQ {r['aiq']:.4f}")
        r = json.loads((evals / f"mmlu2{pool}.json").read_text())
        print(f"Mixtral vs GPT-4 ({r['rows']} rows): APGR {r['apgr']:.4f} (by cost "
              f"{r['apgr_by_cost']:.4f}); CPT(50%) {r['cpt50']}; CPT(80%) {r['cpt80']}; cost to "
              f"match GPT-4 {r['cost_to_match'][GPT4]}")
    for name in ("routerbench", "gsm8k", "zeroeval", "mmlu-pro"):
        r = json.loads((evals / f"{name}.json").read_text())
        print(f"## {name} ({r['rows']} rows), AIQ {r['aiq']:.4f}, APGR {r['apgr']}")
        for model, s in r["models"].items():
            ctm = r["cost_to_match"][model]
            print(f"  {model:<26} acc {s['accuracy']:.4f} cost {s['mean_cost']:.2e} "
                  f"ctm {'never' if ctm is None else f'{ctm:.3f}'} "
                  f"gain {fmt(r['gain_at_cost'][model])}")


def fmt(v):
    return "none" if v is None else f"{v:+.4f}"


if __name__ == "__main__":
    main()

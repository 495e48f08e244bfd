"""The demo audit's robustness figures without the dashboard: what `manage.py demo_setup` computes, in one call.

    .venv/bin/python bench/robustness_demo.py [--rows 3000] [--explain-rows 12]

As the demo: a frozen-MiniLM classifier trained by `train_classifier` (8 epochs, seed 0, label order of the
uploaded data) on `hiring_rows(SyntheticSpec(n_rows=rows))`, audited by `compute_audit` on the held-out
`hiring_rows(SyntheticSpec(n_rows=max(200, rows // 3), seed=8))` with the demo audit's configuration
(n_boot 1,000, seed 0, SHAP on `--explain-rows` rows, robustness on 500 texts with the demo's two directional
expectations). Prints each figure the demo prints, then `RESULT robustness_demo ...`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_core.audit import compute_audit  # noqa: E402
from models_core.data.synthetic import SyntheticSpec, hiring_rows  # noqa: E402
from models_core.training.config import TrainConfig  # noqa: E402
from models_core.training.trainer import train_classifier  # noqa: E402

# governance/dashboard/management/commands/demo_setup.py ROBUSTNESS_EXPECTATIONS (this script imports no Django)
EXPECTATIONS = [{"phrase": "They have no relevant experience.", "direction": "down"},
                {"phrase": "They led a team of twenty engineers.", "direction": "up"}]


def shown(figure) -> str:
    low, high = figure["ci"]
    return "—" if figure["value"] is None else f"{figure['value']:.3f} [{low:.3f}, {high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--explain-rows", type=int, default=12)
    args = parser.parse_args()
    train = hiring_rows(SyntheticSpec(n_rows=args.rows))
    holdout = hiring_rows(SyntheticSpec(n_rows=max(200, args.rows // 3), seed=8))
    labels = sorted({r["hired"] for r in train})
    started = time.perf_counter()
    bundle = train_classifier([r["text"] for r in train], [labels.index(r["hired"]) for r in train], len(labels),
                              TrainConfig(epochs=8, seed=0, label_names=tuple(labels))).bundle
    trained = time.perf_counter()
    config = {"n_boot": 1000, "seed": 0, "explain_rows": args.explain_rows, "explain_methods": ["shap"],
              "robustness": {"seed": 0, "n_boot": 1000, "max_texts": 500, "directional": EXPECTATIONS}}
    audit = compute_audit(bundle, [r["text"] for r in holdout], [r["hired"] for r in holdout],
                          {"gender": [r["gender"] for r in holdout], "age_band": [r["age_band"] for r in holdout]},
                          config, label_names=labels, positive_label="yes")
    result = audit.results["robustness"]
    print(f"trained in {trained - started:.0f} s, audited in {time.perf_counter() - trained:.0f} s; accuracy "
          f"{audit.results['metrics']['accuracy']:.3f}")
    print(f"robustness on {result['n_texts']} texts, flip rate: " + ", ".join(
        f"{name} {shown(s['flip_rate'])}" for name, s in result["suites"].items() if s["n_changed"]))
    for e in result["directional"]:
        print(f"adding “{e['phrase']}” ({e['direction']}): failure rate {shown(e['failure_rate'])}, "
              f"mean Δp {shown(e['mean_change'])}")
    attack = result["adversarial"]
    print(f"attack ({', '.join(attack['importance'])} importance): success {shown(attack['attack_success_rate'])} on "
          f"{attack['n_attacked']} texts, {attack['mean_words_changed'] or 0:.2f} words, "
          f"{attack['queries_per_success'] or 0:.0f} queries per success")
    summary = result["summary"]
    print(f"RESULT robustness_demo worst_flip_upper={summary['invariance_flip_rate_upper']['value']:.3f} "
          f"worst_suite={summary['invariance_flip_rate_upper']['suite']} "
          f"directional_failure_upper={summary['directional_failure_rate_upper']['value']:.3f} "
          f"attack_success_upper={summary['attack_success_rate_upper']:.3f} "
          f"robustness_wall_s={result['compute']['wall_s']:.0f}")


if __name__ == "__main__":
    main()

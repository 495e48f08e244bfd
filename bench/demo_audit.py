"""The demo's audit: what explaining its rows costs, on this checkout or another one (issue 19's "the default
demo audit explains 50 rows within the time 12 took before").

    .venv/bin/python bench/demo_audit.py [--explain 50] [--repo PATH] [--rows 3000] [--holdout 1000]

The demo's data (`demo_setup`: 3,000 seeded hiring rows to train on, 1,000 held out with seed 8) and its model
(the frozen MiniLM-L6 encoder with a head trained by `train_classifier`, seeded); then `compute_audit` on the
held-out rows as the worker calls it (1,000 bootstrap replicates, the default counterfactual swaps), once with no
explained rows and once with `--explain` rows explained with SHAP, LIME and IG. The explanations' cost is the
difference of the two wall times (the rest of the audit is the same in both). `--repo` imports `models_core`
from another checkout, e.g. a worktree of the code before issue 19 (`git worktree add /tmp/before f52361f`),
with this checkout's virtual environment; both runs print the same line:

    RESULT demo_audit repo=… explain_rows=… audit_s=… explain_s=… per_row_s=… evaluations=…
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--explain", type=int, default=50)
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--holdout", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.repo).resolve()))

    import torch  # noqa: F401 - before the core, as the worker imports it

    from models_core.audit import compute_audit
    from models_core.data.synthetic import SyntheticSpec, hiring_rows
    from models_core.training.config import TrainConfig
    from models_core.training.trainer import train_classifier

    import models_core

    print(f"models_core from {Path(models_core.__file__).parent}", flush=True)
    train = hiring_rows(SyntheticSpec(n_rows=args.rows))
    held = hiring_rows(SyntheticSpec(n_rows=args.holdout, seed=8))
    started = time.perf_counter()
    bundle = train_classifier([r["text"] for r in train], [int(r["hired"] == "yes") for r in train], 2,
                              TrainConfig(seed=0)).bundle
    print(f"trained in {time.perf_counter() - started:.1f} s (untimed)", flush=True)
    texts = [r["text"] for r in held]
    labels = [r["hired"] for r in held]
    groups = {a: [r[a] for r in held] for a in ("gender", "age_band")}

    def audit(explain_rows: int) -> tuple[float, dict]:
        config = {"n_boot": 1000, "seed": 0, "explain_rows": explain_rows}
        start = time.perf_counter()
        computed = compute_audit(bundle, texts, labels, groups, config, label_names=["no", "yes"],
                                 positive_label="yes")
        return time.perf_counter() - start, computed.results

    audit(0)  # warm-up: imports, first torch calls
    base_s, _ = audit(0)
    total_s, results = audit(args.explain)
    explanations = results.get("explanations") or {}
    compute = explanations.get("compute") or {}
    evaluations = compute.get("model_evaluations", 0) + compute.get("gradient_steps", 0)
    explain_s = total_s - base_s
    print(f"audit without explanations {base_s:.1f} s; with {args.explain} explained rows {total_s:.1f} s")
    print(f"RESULT demo_audit repo={Path(args.repo).resolve().name} explain_rows={args.explain} "
          f"audit_s={total_s:.1f} explain_s={explain_s:.1f} per_row_s={explain_s / max(args.explain, 1):.2f} "
          f"evaluations={evaluations}")


if __name__ == "__main__":
    main()

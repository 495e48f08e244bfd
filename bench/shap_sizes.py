"""How Kernel SHAP draws its coalitions' sizes, against its fidelity (issue 19: could a better design halve SHAP's
budget on the demo's texts?).

    .venv/bin/python bench/shap_sizes.py [--rows 0,3,7,12,20,31,44,58] [--reference 4000] [--budgets 250,300,400,500]

The demo's model (`demo_setup`'s data: 3,000 seeded hiring rows, the frozen MiniLM-L6 encoder and a head trained by
`train_classifier`, seed 0), fp32, and held-out texts (seed 8, the rows given), words as players. Both designs
enumerate sizes 1 and n-1 (2n strings) and spend the rest of the budget on complementary pairs of distinct random
coalitions of the other sizes, solved by the product's constrained weighted least squares (`kernel._kernel_solve`):

- ``kernel``: sizes drawn in proportion to their Shapley-kernel weight, rows weighted equally (the product's
  `paired_kernel_values`, without its early stop);
- ``uniform``: sizes drawn uniformly, rows weighted by kernel weight over sampling probability: the leverage-score
  distribution of Leverage SHAP (Musco & Witter, 2025), for which the Shapley regression's leverage scores are
  equal per size.

Reference per text: the mean of one `--reference`-string run of each design (other seeds); their Pearson is
printed. Each design at each budget is run with seeds 0, 1, 2; printed: the mean and smallest Pearson with the
reference over texts and seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.demo_texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="0,3,7,12,20,31,44,58")
    parser.add_argument("--reference", type=int, default=4000)
    parser.add_argument("--budgets", default="250,300,400,500")
    args = parser.parse_args()

    from bench.demo_texts import demo_word_items, paired_design
    from models_core.explain.kernel import _kernel_solve
    from models_core.explain.text import masked_texts

    predictor, mask, items = demo_word_items([int(i) for i in args.rows.split(",")])

    def estimate(view, target: int, budget: int, seed: int, design: str) -> np.ndarray:
        masks, weights = paired_design(len(view), budget, np.random.default_rng(seed), uniform_sizes=design == "uniform")
        y = predictor(masked_texts(view, masks, mask))[:, target]
        return _kernel_solve(masks[2:], weights, y[2:], float(y[1]), float(y[0]))

    started = time.perf_counter()
    reference = []
    for view, target in items:
        a, b = (estimate(view, target, args.reference, s, d) for s, d in ((101, "kernel"), (102, "uniform")))
        reference.append((a + b) / 2)
        print(f"reference halves' Pearson {np.corrcoef(a, b)[0, 1]:.4f}", flush=True)
    print(f"reference: {time.perf_counter() - started:.0f} s")
    best = {}
    for budget in [int(b) for b in args.budgets.split(",")]:
        for design in ("kernel", "uniform"):
            ps = [float(np.corrcoef(estimate(v, t, budget, seed, design), r)[0, 1])
                  for seed in (0, 1, 2) for (v, t), r in zip(items, reference)]
            best[(budget, design)] = float(np.mean(ps))
            print(f"budget {budget} {design}: Pearson mean {np.mean(ps):.4f} min {np.min(ps):.4f}", flush=True)
    gains = [best[(b, "uniform")] - best[(b, "kernel")] for b in sorted({b for b, _ in best})]
    print(f"RESULT shap_sizes uniform_minus_kernel_pearson={' '.join(f'{g:+.4f}' for g in gains)}")


if __name__ == "__main__":
    main()

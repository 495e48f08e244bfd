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

    from bench.demo_texts import demo_texts
    from models_core.explain.kernel import _kernel_solve
    from models_core.explain.text import masked_texts, word_view

    _, predictor, mask, tokenized, targets = demo_texts([int(i) for i in args.rows.split(",")])
    items = [(word_view(t)[0], target) for t, target in zip(tokenized, targets)]
    print(f"words per text {[len(v) for v, _ in items]}", flush=True)

    def estimate(view, target: int, budget: int, seed: int, design: str) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n = len(view)
        masks = []
        for i in range(n):
            one = np.zeros(n, bool)
            one[i] = True
            masks += [one, ~one]
        every = (n - 1) / (np.arange(1, n) * (n - np.arange(1, n)))
        sizes = np.arange(2, n - 1)
        size_w = (n - 1) / (sizes * (n - sizes))
        edge_weight, rest_weight = (every[0] + every[-1]) / every.sum(), size_w.sum() / every.sum()
        target_p = size_w / size_w.sum()
        q = target_p if design == "kernel" else np.full(len(sizes), 1 / len(sizes))
        seen, drawn, drawn_sizes = set(), [], []
        while len(drawn) < (budget - 2 - 2 * n) // 2:
            k = int(rng.choice(len(sizes), p=q))
            m = np.zeros(n, bool)
            m[rng.choice(n, sizes[k], replace=False)] = True
            if m.tobytes() in seen:
                continue
            seen.update((m.tobytes(), (~m).tobytes()))
            drawn.append(m)
            drawn_sizes.append(k)
        importance = np.array([target_p[k] / q[k] for k in drawn_sizes])
        importance = importance / importance.sum() * rest_weight
        weights = [edge_weight / (2 * n)] * (2 * n)
        for m, a in zip(drawn, importance):
            masks += [m, ~m]
            weights += [a / 2, a / 2]
        every_mask = np.array([np.ones(n, bool), np.zeros(n, bool)] + masks)
        y = predictor(masked_texts(view, every_mask, mask))[:, target]
        return _kernel_solve(every_mask[2:], np.array(weights), y[2:], float(y[1]), float(y[0]))

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

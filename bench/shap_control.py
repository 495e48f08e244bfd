"""Kernel SHAP with a control variate (issue 19: could a surrogate game take SHAP's budget down on the demo's texts?).

    .venv/bin/python bench/shap_control.py [--rows 0,3,7,12,20,31,44,58] [--reference 2000] [--budgets 200,250,300,500]

Regression-adjusted Kernel SHAP: fit a cheap surrogate game g to the scored coalitions, take g's Shapley values
exactly or from as many coalitions as wanted (g costs no model call), and estimate only the residual game f - g
with Kernel SHAP on the same strings: phi(f) = phi(g) + KernelSHAP(f - g). The closer g follows f, the smaller the
residual and its estimate's error. Surrogates:

- ``quad1`` / ``quad2``: the probability as a linear function of the kept words plus interactions of words at most
  1 / 2 apart (weighted ridge fit); its Shapley values are exact (each interaction split between its two words);
- ``logit``: the probability as a sigmoid of a linear function of the kept words (the head's link; weighted
  least squares on the logits); its Shapley values from 8,000 antithetic permutations of g.

The demo's model (fp32, `bench.demo_texts`), held-out texts (seed 8, the rows given), words as players. Every
estimator uses the product's paired design (sizes 1 and n-1 enumerated, then complementary pairs of coalitions drawn
in proportion to the Shapley kernel) and its constrained weighted least squares (`kernel._kernel_solve`), no early
stop. Reference per text: the mean of two plain `--reference`-string runs (other seeds); their Pearson is printed.
Each estimator at each budget runs with seeds 0, 1, 2; printed: mean and smallest Pearson with the reference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.demo_texts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def logit_shapley(a: float, b: np.ndarray, permutations: int = 4000, seed: int = 0) -> np.ndarray:
    """Shapley values of g(z) = sigmoid(a + b.z) from antithetic permutations (g is free to evaluate)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, len(b))), axis=1)
    order = np.vstack([order, order[:, ::-1]])
    after = np.cumsum(b[order], axis=1)
    before = np.hstack([np.zeros((len(order), 1)), after[:, :-1]])
    phi = np.zeros(len(b))
    np.add.at(phi, order.ravel(), (_sigmoid(a + after) - _sigmoid(a + before)).ravel())
    return phi / len(order)


def estimates(masks: np.ndarray, weights: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    from models_core.explain.kernel import _kernel_solve

    n = masks.shape[1]
    v1, v0 = float(y[0]), float(y[1])

    def adjusted(g: np.ndarray, phi_g: np.ndarray) -> np.ndarray:
        r = y - g
        phi = phi_g + _kernel_solve(masks[2:], weights, r[2:], float(r[1]), float(r[0]))
        return phi + ((v1 - v0) - phi.sum()) / n  # phi_g's sampling error kept off the efficiency sum

    out = {"plain": _kernel_solve(masks[2:], weights, y[2:], v0, v1)}
    z = masks.astype(float)
    fit_w = np.concatenate([[1e3, 1e3], weights * len(weights)])  # the ends pinned, the rest as Kernel SHAP weighs
    for window in (1, 2):
        pairs = [(i, j) for i in range(n) for j in range(i + 1, min(n, i + window + 1))]
        x = np.hstack([np.ones((len(z), 1)), z] + [z[:, [i]] * z[:, [j]] for i, j in pairs])
        ridge = 1e-2 * np.eye(x.shape[1])
        ridge[0, 0] = 0
        coef = np.linalg.solve(x.T @ (x * fit_w[:, None]) + ridge, x.T @ (fit_w * y))
        phi_g = coef[1:n + 1].copy()
        for (i, j), c in zip(pairs, coef[n + 1:]):
            phi_g[i] += c / 2
            phi_g[j] += c / 2
        out[f"quad{window}"] = adjusted(x @ coef, phi_g)
    t = np.log(np.clip(y, 1e-6, 1 - 1e-6) / np.clip(1 - y, 1e-6, 1))
    x = np.hstack([np.ones((len(z), 1)), z])
    coef = np.linalg.solve(x.T @ (x * fit_w[:, None]) + 1e-3 * np.eye(n + 1), x.T @ (fit_w * t))
    out["logit"] = adjusted(_sigmoid(x @ coef), logit_shapley(coef[0], coef[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="0,3,7,12,20,31,44,58")
    parser.add_argument("--reference", type=int, default=2000)
    parser.add_argument("--budgets", default="200,250,300,500")
    args = parser.parse_args()

    from bench.demo_texts import demo_word_items, paired_design
    from models_core.explain.text import masked_texts

    predictor, mask, items = demo_word_items([int(i) for i in args.rows.split(",")])

    def run(view, target: int, budget: int, seed: int) -> dict[str, np.ndarray]:
        masks, weights = paired_design(len(view), budget, np.random.default_rng(seed))
        return estimates(masks, weights, predictor(masked_texts(view, masks, mask))[:, target])

    started = time.perf_counter()
    reference = []
    for view, target in items:
        a, b = (run(view, target, args.reference, s)["plain"] for s in (101, 102))
        reference.append((a + b) / 2)
        print(f"reference halves' Pearson {np.corrcoef(a, b)[0, 1]:.4f}", flush=True)
    print(f"reference: {time.perf_counter() - started:.0f} s")
    gains = {}
    for budget in [int(b) for b in args.budgets.split(",")]:
        found: dict[str, list[float]] = {}
        for seed in (0, 1, 2):
            for (view, target), r in zip(items, reference):
                for name, phi in run(view, target, budget, seed).items():
                    found.setdefault(name, []).append(float(np.corrcoef(phi, r)[0, 1]))
        print(f"budget {budget}: " + "  ".join(f"{k} mean {np.mean(p):.4f} min {np.min(p):.4f}"
                                               for k, p in found.items()), flush=True)
        for name in ("quad2", "logit"):
            gains.setdefault(name, []).append(float(np.mean(found[name]) - np.mean(found["plain"])))
    print("RESULT shap_control " + " ".join(f"{name}_minus_plain_pearson={','.join(f'{g:+.4f}' for g in values)}"
                                            for name, values in gains.items()))


if __name__ == "__main__":
    main()

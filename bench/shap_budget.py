"""SHAP's fidelity against its budget on the demo's model and texts (issue 19: fewer evaluations only at equal
fidelity).

    .venv/bin/python bench/shap_budget.py [--rows 0,3,7,12,20] [--reference 2500] [--budgets 200,300,500]

The demo's model (`demo_setup`'s data: 3,000 seeded hiring rows, the frozen MiniLM-L6 encoder and a head trained
by `train_classifier`, seed 0) and held-out texts (seed 8, the rows given). Reference: the mean of two paired
Kernel SHAP runs of `--reference` strings each over the words (seeds 11 and 12, no early stop); their
self-Pearson says how near-exact it is. Compared, per text, by Pearson of the word values with the reference:
the code before issue 19 (Owen values over tokens at 500 strings, summed into words), Owen over words, and
paired Kernel SHAP over words with the product's stopping rule, at each budget. Prints one line per estimator
and a RESULT line with the before figure and the smallest budget of each estimator that reaches it.
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
    parser.add_argument("--rows", default="0,3,7,12,20")
    parser.add_argument("--reference", type=int, default=2500)
    parser.add_argument("--budgets", default="150,200,250,300,400,500")
    args = parser.parse_args()

    from bench.demo_texts import demo_texts
    from models_core.explain.kernel import paired_kernel_values
    from models_core.explain.methods import PAIRED_TOLERANCE, ShapTrees, shap_values
    from models_core.explain.text import ShapTokenizerAdapter, sum_to_words, word_view

    bundle, predictor, mask, tokenized, targets = demo_texts([int(i) for i in args.rows.split(",")])
    items = list(zip(tokenized, targets))
    views = [word_view(t) for t in tokenized]
    word_items = [(view, target) for (view, _), (_, target) in zip(views, items)]
    print(f"texts: words {[len(v) for v, _ in views]}, tokens {[len(t) for t in tokenized]}", flush=True)

    started = time.perf_counter()
    runs = [[r.values for r in paired_kernel_values(predictor, word_items, mask, max_evals=args.reference, seed=s,
                                                    tolerance=0.0)] for s in (11, 12)]
    reference = [(a + b) / 2 for a, b in zip(*runs)]
    self_pearson = [float(np.corrcoef(a, b)[0, 1]) for a, b in zip(*runs)]
    print(f"reference: {time.perf_counter() - started:.0f} s, self-Pearson {np.round(self_pearson, 4).tolist()}")

    def pearson(values: list[np.ndarray]) -> float:
        return float(np.mean([np.corrcoef(v, r)[0, 1] for v, r in zip(values, reference)]))

    trees = ShapTrees(ShapTokenizerAdapter(bundle.tokenizer, mask))
    before = shap_values(predictor, trees, items, max_evals=500, algorithm="owen", players="tokens")
    before_p = pearson([sum_to_words(a.values, groups) for a, (_, groups) in zip(before, views)])
    print(f"before (Owen over tokens, 500): Pearson {before_p:.4f}")
    reaches = {}
    for budget in [int(b) for b in args.budgets.split(",")]:
        owen = shap_values(predictor, trees, items, max_evals=budget, algorithm="owen", players="words")
        paired = paired_kernel_values(predictor, word_items, mask, max_evals=budget, seed=0,
                                      tolerance=PAIRED_TOLERANCE)
        for name, values, spent in (
                ("owen_words", [sum_to_words(a.values, g) for a, (_, g) in zip(owen, views)],
                 [a.info["evaluations"] for a in owen]),
                ("paired_words", [r.values for r in paired], [r.evaluations for r in paired])):
            p = pearson(values)
            print(f"{name} budget {budget}: {np.mean(spent):.0f} strings/text, Pearson {p:.4f}", flush=True)
            if p >= before_p:
                reaches.setdefault(name, budget)
    print(f"RESULT shap_budget before_pearson={before_p:.4f} owen_words_reaches={reaches.get('owen_words')} "
          f"paired_words_reaches={reaches.get('paired_words')}")


if __name__ == "__main__":
    main()

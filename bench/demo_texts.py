"""The demo's model and held-out texts as the SHAP benchmarks (`shap_budget.py`, `shap_sizes.py`, `shap_control.py`)
explain them, and the paired Kernel SHAP design two of them sample.

    bundle, predictor, mask, tokenized, targets = demo_texts([0, 3, 7])

The demo's data (`demo_setup`: 3,000 seeded hiring rows; held-out rows with seed 8), the frozen MiniLM-L6
encoder with a head trained by `train_classifier` (seed 0), scored in fp32 padding-free batches as the audit
scores, through a `CachedPredictor` (returned with the bundle and the mask token); the held-out rows at
`rows`, tokenized for explanation (128 tokens), and the class each is explained for (its predicted class).
"""

from __future__ import annotations

from typing import Sequence


def demo_texts(rows: Sequence[int]):
    from models_core.data.synthetic import SyntheticSpec, hiring_rows
    from models_core.encoder.quantized import perturbation_scorer
    from models_core.explain.text import CachedPredictor, mask_token_of, plain_tokenizer, tokenize_for_explanation
    from models_core.training.config import TrainConfig
    from models_core.training.trainer import train_classifier

    train = hiring_rows(SyntheticSpec(n_rows=3000))
    held = hiring_rows(SyntheticSpec(n_rows=1000, seed=8))
    bundle = train_classifier([r["text"] for r in train], [int(r["hired"] == "yes") for r in train], 2,
                              TrainConfig(seed=0)).bundle
    scorer, _ = perturbation_scorer(bundle, [], kind=None)  # fp32, padding-free, as the audit scores
    tokenizer = plain_tokenizer(bundle.tokenizer)
    tokenized = [tokenize_for_explanation(tokenizer, held[int(i)]["text"], 128) for i in rows]
    predictor = CachedPredictor(scorer.predict_proba)
    targets = [int(p.argmax()) for p in predictor([t.text for t in tokenized])]
    return bundle, predictor, mask_token_of(tokenizer), tokenized, targets


def demo_word_items(rows: Sequence[int]):
    """`demo_texts(rows)` with whole words as players: (predictor, mask token, [(word view, target)]), the words per
    text printed."""
    from models_core.explain.text import word_view

    _, predictor, mask, tokenized, targets = demo_texts(rows)
    items = [(word_view(t)[0], target) for t, target in zip(tokenized, targets)]
    print(f"words per text {[len(v) for v, _ in items]}", flush=True)
    return predictor, mask, items


def paired_design(n: int, budget: int, rng, uniform_sizes: bool = False):
    """The coalitions of a paired Kernel SHAP design of `budget` strings over `n` players and the inner rows'
    regression weights: rows full, empty, the 2n coalitions of sizes 1 and n-1 (enumerated), then complementary
    pairs of distinct random coalitions of the other sizes. Sizes are drawn in proportion to their Shapley-kernel
    weight (the product's `paired_kernel_values`, rows weighted equally) or, `uniform_sizes`, uniformly with rows
    weighted by kernel weight over sampling probability (Leverage SHAP's design)."""
    import numpy as np

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
    q = np.full(len(sizes), 1 / len(sizes)) if uniform_sizes else target_p
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
    return np.array([np.ones(n, bool), np.zeros(n, bool)] + masks), np.array(weights)

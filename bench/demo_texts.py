"""The demo's model and held-out texts as the SHAP benchmarks (`shap_budget.py`, `shap_sizes.py`) explain them.

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

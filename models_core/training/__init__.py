"""Training a text classifier (`trainer.train_classifier` with a `config.TrainConfig`): a frozen pretrained
encoder with a trained head (optionally DP-SGD), full fine-tuning, or a small encoder from scratch.

Takes texts, integer labels and optional sample weights; returns a `TrainResult` (the trained
`ClassifierBundle`, validation metrics, compute, DP accounting, per-epoch history). Imports torch (and
lazily opacus), and from models_core `encoder`, `compute`, `metrics` and `errors`; never fairness, explain
or data.
"""

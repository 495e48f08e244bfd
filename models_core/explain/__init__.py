"""Explanations of a text classifier's decisions: per-token SHAP (Owen/kernel values over token
coalitions), LIME and Integrated Gradients, their stability, and a global view of the most important
tokens and likely proxies (`sample.explain_sample` runs them all on a sample of texts).

Takes a bundle-like object (`tokenizer`, `predict_proba`, and for IG `model.embed`), texts and target
classes; returns the plain JSON "models_core.explain/1" report. Imports numpy, torch, tokenizers, and
lazily shap, lime and captum; from models_core only `errors`. Never imports fairness, data or training.
"""

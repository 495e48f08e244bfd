"""Robustness of a text classifier's decisions (EU AI Act Art. 15): invariance suites after CheckList
(typos, casing, punctuation and whitespace, contractions, irrelevant sentences, person names swapped across
origins, numbers within a range), directional expectations, and a greedy TextFooler-style word-substitution
attack; every rate with a bootstrap interval over texts, overall and per sensitive group
(`report.robustness_report` runs them all).

Takes texts, a `predict_proba(texts)` callable, group columns and a configuration; optionally the texts'
probabilities, an `neighbours.EncoderSpace` of the model (embedding candidates, sentence similarity) and the
audit's SHAP values as plain (start, end, value) token spans. Returns the plain JSON
"models_core.robustness/1" report. Imports numpy, torch (neighbours) and from models_core `errors` and
`fairness.bootstrap` (the percentile interval); never explain, data or training.
"""

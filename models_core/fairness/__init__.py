"""Fairness of decisions: group metrics and disparities with bootstrap intervals (`report.fairness_report`),
calibration and ROC AUC by group (`calibration.calibration_report`), policy rules judged against them
(`rules.evaluate_thresholds`), post-processing mitigation by group
thresholds (`mitigation`) and counterfactual token swaps (`counterfactual`).

Takes labels, predictions, scores and group values as sequences or numpy arrays (and, for counterfactuals,
a `predict_proba(texts)` callable); returns plain JSON dicts. Imports numpy, scikit-learn's estimator base
and fairlearn (mitigation), and from models_core only `errors` and `metrics`; never the encoder or torch.
"""

"""One call computes an audit: `compute_audit(bundle, texts, labels, groups, config, ...)`.

Takes a loaded `ClassifierBundle`, the audited rows as plain lists (texts, true label names, and per
sensitive attribute one group value per row) and the audit's configuration dict; returns a
`ComputedAudit`: the results to store, keyed by result kind (plain JSON-able data, numpy scalars aside),
and per row the decided class and the model's class probabilities. Never imports Django or anything
above `models_core`; the caller loads the rows and stores the results.

Steps, with the progress stages reported (``{"stage": ..., "percent": ...[, "eta_s": ...]}``):
  1. inference (5-55 %): class probabilities for every text, length-bucketed.
  2. decisions: the argmax, or for a mitigated model (`mitigation`, from its artifact metadata) its
     per-group randomised thresholds on the positive-class probability; performance: accuracy, macro-F1,
     per-class figures (models_core.metrics).
  3. fairness (56 %): per-group metrics with bootstrap intervals; calibration (60 %): ECE, reliability
     curve and ROC AUC per group of the model's probabilities (models_core.fairness.calibration). With
     `sample_weight` (a weighted dataset version, e.g. reweighed) both are weighted, and their "weighting"
     says so and names the weights' column and source (`weighting`).
  4. counterfactual (64 %): token-swap flip rates, judged on the argmax before any thresholds.
  5. explanations (70-95 %, when ``config["explain_rows"] > 0``): SHAP/LIME/IG on a sample stratified by
     group and correctness, `EXPLAIN_CHUNK` texts at a time; perturbations are scored by a cheaper copy of
     the model where it agrees with fp32 (`models_core.encoder.quantized`; ``config["explain_scoring"]``),
     and the report's ``config["scoring"]`` says which and how well it agreed. The events carry
     ``eta_s``, the estimated seconds left, from the texts explained so far.
  6. robustness (95-99 %, when ``config["robustness"]`` is set): invariance suites, directional
     expectations and the greedy substitution attack (models_core.robustness), on the argmax like the
     counterfactuals; the attack ranks words by the explained rows' SHAP values when there are some.
  7. the verdict: the fairness results judged against the audit's rules, only once everything is done.

Results as they come: `on_stage(kind, data)` (optional) receives each result as soon as its stage is
done: "metrics" and "compute", "fairness", "calibration", "counterfactual", then "explanations" after every
chunk of texts (the texts explained so far, with ``"partial": {"explained": k, "of": n}`` until the last),
then "robustness". "fairness_verdict" is never sent: it is final only in the returned results, with
everything else.

Configuration keys (defaults in `DEFAULTS`): ``n_boot``, ``seed``, ``explain_rows``, ``explain_methods``,
``explain_scoring`` ("auto": the first cheaper copy the machine runs fast, bf16 mixed precision where native else
int8, that agrees with fp32; "fp32"; "int8"; "bf16"), ``explain_stability_sample`` (at most this many explained
texts get the stability re-run, `stability_count`),
``counterfactual`` ({"word_pairs", "groups", "n_worst"}; None: the core's default pairs) and
``fairness_rules`` (`models_core.fairness.rules.evaluate_thresholds` rules) and ``robustness`` (None: not
run; a dict: `models_core.robustness.report.robustness_report`'s configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import math
import time

import numpy as np

from models_core.encoder.bundle import ClassifierBundle
from models_core.encoder.inference import Prediction, predict_dataset
from models_core.encoder.quantized import perturbation_scorer
from models_core.errors import InputError
from models_core.explain.global_view import global_view, select_sample
from models_core.explain.sample import explain_sample, stability_sample
from models_core.fairness.calibration import calibration_report
from models_core.fairness.counterfactual import DEFAULT_GROUPS, DEFAULT_WORD_PAIRS, counterfactual_report
from models_core.fairness.mitigation import apply_thresholds
from models_core.fairness.report import fairness_report
from models_core.fairness.rules import evaluate_thresholds
from models_core.metrics import classification_summary
from models_core.robustness.neighbours import EncoderSpace
from models_core.robustness.report import robustness_report

Progress = Callable[[dict[str, Any]], None]
OnStage = Callable[[str, Any], None]

COUNTERFACTUAL_WORST = 5
EXPLAIN_CHUNK = 10  # texts explained per call: the report fills in this many at a time
# Explained texts whose every method is re-run on a meaning-preserving edit (the stability check), spread evenly
# over the sample: a fifth of them, at least 3 (all when fewer), at most 10. The re-run doubles a text's cost;
# a few texts of the model's own data show whether its explanations hold up, and the fifth keeps the check at
# ~20 % of the explanations' time instead of 100 %.
STABILITY_SAMPLE = 10
STABILITY_SHARE, STABILITY_MIN = 0.2, 3


def stability_count(n: int, most: int = STABILITY_SAMPLE) -> int:
    """How many of `n` explained texts get the stability re-run: a fifth, at least 3, at most `most`."""
    return min(n, most, max(STABILITY_MIN, math.ceil(STABILITY_SHARE * n)))


SCORING = ("auto", "fp32", "int8", "bf16")
DEFAULTS: dict[str, Any] = {"n_boot": 1000, "seed": 0, "explain_rows": 0, "explain_methods": ("shap", "lime", "ig"),
                            "explain_scoring": "auto", "explain_stability_sample": STABILITY_SAMPLE,
                            "counterfactual": None, "fairness_rules": (), "robustness": None}


@dataclass(frozen=True)
class ComputedAudit:
    results: dict[str, Any]      # result kind -> data: metrics, fairness, compute, counterfactual,
                                 # fairness_verdict and (when rows were explained) explanations
    predictions: list[int]       # (n,) decided class index per row
    probabilities: np.ndarray    # (n, num_labels) float64 model probabilities (before any thresholds)


def compute_audit(bundle: ClassifierBundle, texts: Sequence[str], labels: Sequence[str],
                  groups: Mapping[str, Sequence[Any]], config: Mapping[str, Any], *,
                  label_names: Sequence[str], positive_label: str | None = None,
                  mitigation: Mapping[str, Any] | None = None, progress: Progress | None = None,
                  sample_weight: Sequence[float] | None = None,
                  weighting: Mapping[str, Any] | None = None, on_stage: OnStage | None = None) -> ComputedAudit:
    """Compute every result of an audit of `bundle` on the rows; see the module docstring.

    `labels` are label names, indexed by `label_names` (the model version's classes); `positive_label`
    is the dataset's positive class (binary models; default the second class). `sample_weight`: one weight
    per row for the fairness and calibration results (None: unweighted); `weighting`: where the weights
    come from ({"column": ..., "source": ...}), recorded beside them. `on_stage(kind, data)`: each result as
    its stage completes (module doc); the verdict is only in the returned results.
    """
    texts = list(texts)
    settings = {**DEFAULTS, **config}
    if settings["explain_scoring"] not in SCORING:
        raise InputError(f"explain_scoring must be one of {', '.join(SCORING)}")
    emit = on_stage or (lambda kind, data: None)
    label_index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted({str(label) for label in labels if label not in label_index})
    if unknown:
        raise InputError(f"labels the model does not know: {', '.join(unknown)}")
    if len(labels) != len(texts) or any(len(values) != len(texts) for values in groups.values()):
        raise InputError("texts, labels and every group column need one value per row")
    report = _progress_reporter(progress)

    inference = predict_dataset(bundle, texts, progress=lambda p: report("inference", 5 + 0.5 * p.get("percent", 0)))
    y_true = [label_index[label] for label in labels]
    positive = label_index.get(positive_label, 1) if len(label_names) == 2 else None
    y_pred, decision = _decisions(inference, mitigation, groups, label_index, positive)
    results: dict[str, Any] = {"metrics": {**classification_summary(y_true, y_pred, label_names), "decision": decision},
                               "compute": inference.compute}
    emit("metrics", results["metrics"])
    emit("compute", results["compute"])
    report("fairness", 56)
    fairness = fairness_report(y_true, y_pred, groups, labels=list(range(len(label_names))),
                               positive_label=positive if positive is not None else 1,
                               n_boot=settings["n_boot"], seed=settings["seed"], sample_weight=sample_weight)
    stated = {"weighted": sample_weight is not None, **(dict(weighting or {}) if sample_weight is not None else {})}
    fairness["weighting"] = stated
    results["fairness"] = fairness
    emit("fairness", fairness)
    report("calibration", 60)
    calibration = _calibration(inference.probabilities, y_true, groups, label_names, positive, settings, sample_weight)
    calibration["weighting"] = stated
    results["calibration"] = calibration
    emit("calibration", calibration)
    report("counterfactual", 64)
    results["counterfactual"] = _counterfactual(bundle, texts, inference.probabilities, settings["counterfactual"],
                                                positive if positive is not None else label_index.get(positive_label, 0))
    emit("counterfactual", results["counterfactual"])
    if settings["explain_rows"]:
        report("explanations", 70)
        results["explanations"] = _explanations(bundle, texts, y_true, y_pred, groups, settings, progress,
                                                lambda data: emit("explanations", data))
    if settings["robustness"]:
        report("robustness", 95)
        results["robustness"] = robustness_report(
            texts, bundle.predict_proba, groups, settings["robustness"],
            positive_class=positive if positive is not None else label_index.get(positive_label, 0),
            base_probabilities=inference.probabilities, encoder_space=EncoderSpace(bundle),
            token_importance=shap_token_importance(results.get("explanations"), inference.probabilities),
            progress=lambda p: report("robustness", 95 + 0.04 * p.get("percent", 0)))
        emit("robustness", results["robustness"])
    results["fairness_verdict"] = evaluate_thresholds(fairness, settings["fairness_rules"])
    return ComputedAudit(results=results, predictions=y_pred, probabilities=inference.probabilities)


def _calibration(probabilities: np.ndarray, y_true: list[int], groups: Mapping[str, Sequence[Any]],
                 label_names: Sequence[str], positive: int | None, settings: Mapping[str, Any],
                 sample_weight: Sequence[float] | None) -> dict:
    """Calibration and ROC AUC by group of the model's probabilities (before any group thresholds): of the
    positive class for a binary model, of each class against the rest otherwise."""
    truth = np.asarray(y_true)
    classes = [positive] if positive is not None else list(range(len(label_names)))
    reports = {label_names[k]: calibration_report(
        (truth == k).astype(int), np.clip(probabilities[:, k], 0.0, 1.0), groups, sample_weight=sample_weight,
        n_boot=settings["n_boot"], seed=settings["seed"]) for k in classes}
    scores = "the model's probability of the class (before any group thresholds)"
    if positive is not None:
        return {"task": "binary", "positive_label": label_names[positive], "scores": scores,
                **reports[label_names[positive]]}
    return {"task": "multiclass_ovr", "scores": scores, "classes": reports}


def _progress_reporter(progress: Progress | None) -> Callable[[str, float], None]:
    def report(stage: str, percent: float) -> None:
        if progress is not None:
            progress({"stage": stage, "percent": percent})
    return report


def _decisions(inference: Prediction, mitigation: Mapping[str, Any] | None, groups: Mapping[str, Sequence[Any]],
               label_index: dict[str, int], positive: int | None) -> tuple[list[int], dict]:
    """The predicted class of each row: the argmax, or for a mitigated version its group thresholds on the
    positive-class probability (the probabilities themselves are unchanged)."""
    if not mitigation:
        return [int(p) for p in inference.predictions], {"rule": "argmax"}
    attribute = mitigation["attribute"]
    if attribute not in groups:
        raise InputError(f"the model decides with thresholds per '{attribute}', which the rows do not carry")
    # The thresholds were fitted on the probability of the label the mitigation named positive.
    positive = label_index.get(mitigation.get("positive_label"), positive)
    scores = inference.probabilities[:, positive]
    chosen = apply_thresholds(scores, list(groups[attribute]), mitigation["thresholds"], seed=mitigation["seed"])
    negative = 1 - positive
    return ([positive if c else negative for c in chosen],
            {"rule": "group thresholds", "constraint": mitigation["thresholds"]["constraints"],
             "attribute": attribute, "seed": mitigation["seed"]})


def _counterfactual(bundle: ClassifierBundle, texts: list[str], probabilities: np.ndarray,
                    settings: Mapping[str, Any] | None, positive: int) -> dict:
    """Token-swap test over the audited texts, predicting only the changed variants (the originals are
    already scored). Flips are judged on the model's argmax, before any group thresholds: a swap changes
    the words, not the person's recorded group."""
    settings = settings or {"word_pairs": [list(p) for p in DEFAULT_WORD_PAIRS], "groups": list(DEFAULT_GROUPS)}
    n = len(texts)

    def predict_proba(batch: list[str]) -> np.ndarray:
        if batch[:n] != texts:  # not the layout this shortcut relies on: score everything
            return predict_dataset(bundle, batch).probabilities
        variants = batch[n:]
        extra = predict_dataset(bundle, variants).probabilities if variants else probabilities[:0]
        return np.vstack([probabilities, extra])

    report = counterfactual_report(texts, predict_proba, word_pairs=settings["word_pairs"],
                                   groups=settings["groups"], positive_class=positive,
                                   n_worst=settings.get("n_worst", COUNTERFACTUAL_WORST))
    report["decision"] = "argmax of the model's probabilities (before any group thresholds)"
    return report


def shap_token_importance(explanations: Mapping[str, Any] | None,
                          probabilities: np.ndarray) -> dict[int, list[tuple[int, int, float]]]:
    """Per explained row (its position in the audit), (start, end, SHAP value) of its tokens for the row's
    argmax class: the class the attack pushes away from. A row explained for another class (a mitigated
    model's threshold decision) is turned round for a binary model (the two probabilities sum to one, so
    their SHAP values are opposite) and left out otherwise."""
    if not explanations or "shap" not in (explanations.get("methods") or []):
        return {}
    rows = explanations.get("row_indices") or []
    out = {}
    for entry in explanations.get("texts") or []:
        row = rows[entry["index"]]
        top = int(np.argmax(probabilities[row]))
        sign = 1.0 if entry["target"] == top else (-1.0 if probabilities.shape[1] == 2 else None)
        if sign is None:
            continue
        out[row] = [(int(t["start"]), int(t["end"]), sign * float(v))
                    for t, v in zip(entry["tokens"], entry["attributions"]["shap"])]
    return out


def _explanations(bundle: ClassifierBundle, texts: list[str], y_true: list[int], y_pred: list[int],
                  groups: Mapping[str, Sequence[Any]], settings: Mapping[str, Any], progress: Progress | None,
                  partial: Callable[[dict], None]) -> dict:
    """Explain a sample of rows stratified by the first attribute's group and by correctness."""
    # only rows with something to attribute to (a blank text has no tokens; the explainer refuses it)
    candidates = [i for i, text in enumerate(texts) if text.strip()]
    correct = [y_true[i] == y_pred[i] for i in candidates]
    first_attr = next(iter(groups), None)
    strata = [groups[first_attr][i] for i in candidates] if first_attr else ["all"] * len(candidates)
    rows = [candidates[k] for k in select_sample(strata, correct, n=settings["explain_rows"], seed=settings["seed"])]
    report = explain_texts(bundle, [texts[i] for i in rows], [y_pred[i] for i in rows],
                           {a: [v[i] for i in rows] for a, v in groups.items()}, settings, progress=progress,
                           partial=lambda data: partial({**data, "row_indices": list(rows[:len(data["texts"])])}))
    report["row_indices"] = list(rows)
    return report


def explain_texts(bundle: ClassifierBundle, texts: Sequence[str], targets: Sequence[int],
                  groups: Mapping[str, Sequence[Any]], settings: Mapping[str, Any],
                  progress: Progress | None = None, partial: Callable[[dict], None] | None = None) -> dict:
    """The audit's explanation step on given texts: `explain_sample` with the audit's settings, through the
    perturbation scorer, `EXPLAIN_CHUNK` texts per call, merged into one report. `partial(report)` gets the
    report of the texts explained so far after every chunk but the last. What the worker runs on its sample,
    callable on any texts (bench/audit.py checks its fidelity this way)."""
    settings = {**DEFAULTS, **settings}
    texts, targets, groups = list(texts), [int(t) for t in targets], {a: list(v) for a, v in groups.items()}
    kind = settings["explain_scoring"]
    perturbs = {"shap", "lime"} & set(settings["explain_methods"])  # IG alone scores no perturbation: no probe
    scorer, note = perturbation_scorer(bundle, texts, targets, kind=None if kind == "fp32" or not perturbs else kind,
                                       seed=settings["seed"])
    started, n = time.perf_counter(), len(texts)
    stable = stability_sample(n, stability_count(n, int(settings["explain_stability_sample"])))
    chunks: list[dict] = []
    for start in range(0, n, EXPLAIN_CHUNK):
        stop = min(n, start + EXPLAIN_CHUNK)

        def chunk_progress(event: dict, start: int = start, stop: int = stop) -> None:
            done = (start + (stop - start) * event.get("percent", 0) / 100) / n
            elapsed = time.perf_counter() - started
            eta = elapsed * (1 - done) / done if done > 0.02 else None
            _forward(progress, 100 * done, eta)

        chunks.append(explain_sample(scorer, texts[start:stop], targets[start:stop],
                                     {a: v[start:stop] for a, v in groups.items()},
                                     methods=tuple(settings["explain_methods"]), seed=settings["seed"],
                                     progress=chunk_progress,
                                     stability=[i - start for i in stable if start <= i < stop]))
        merged = _merge_explanations(chunks, groups, note, [i for i in stable if i < stop])
        if stop < n and partial is not None:
            partial({**merged, "partial": {"explained": stop, "of": n}})
    return merged


def _forward(progress: Progress | None, percent: float, eta: float | None) -> None:
    if progress is not None:
        progress({"stage": "explanations", "percent": 70 + 0.25 * percent,
                  **({"eta_s": round(eta, 1)} if eta is not None else {})})


def _merge_explanations(chunks: list[dict], groups: Mapping[str, list], scoring: dict, stable: list[int]) -> dict:
    """One report from `explain_sample`'s reports of consecutive chunks: the texts in order (re-indexed), the
    compute summed, the global view over all of them (as `explain_sample` draws it) and the scoring note."""
    merged = dict(chunks[-1])
    records = [dict(record, index=i) for i, record in enumerate(r for chunk in chunks for r in chunk["texts"])]
    merged["texts"] = records
    merged["config"] = {**merged["config"], "scoring": scoring, "chunk": EXPLAIN_CHUNK,
                        "stability": {**merged["config"]["stability"], "perturbation": bool(stable), "rows": stable,
                                      "sampled": len(stable) < len(records)}}
    compute = {key: sum(chunk["compute"].get(key, 0) for chunk in chunks) for key in chunks[-1]["compute"]}
    merged["compute"] = {**compute, **({"wall_s": round(compute["wall_s"], 3)} if "wall_s" in compute else {})}
    if len(chunks) > 1:
        method = merged["global"]["method"]
        covered = {a: v[:len(records)] for a, v in groups.items()}
        merged["global"] = global_view([[w["word"] for w in r["words"]] for r in records],
                                       [np.asarray(r["word_attributions"][method]) for r in records], covered, method)
    return merged

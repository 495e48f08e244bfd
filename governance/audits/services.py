"""Writes of the audits domain: request an audit, and run it (the worker's side)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.audits.models import Audit, AuditResult, AuditStatus, Prediction
from governance.audits.signals import audit_completed
from governance.compliance.chain import canonical_json
from governance.compliance.services import audit_log_append
from governance.datasets.models import DatasetRecord, DatasetVersion
from governance.errors import InvalidState, ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.registry.artifact_store import artifact_local_dir
from governance.registry.choices import VersionStatus
from governance.registry.models import ModelVersion

AUDIT_TASK = "governance.run_audit"
DEFAULT_CONFIG = {"n_boot": 1000, "seed": 0, "explain_rows": 50, "explain_methods": ["shap", "lime", "ig"]}
COUNTERFACTUAL_WORST = 5


@transaction.atomic
def audit_request(*, actor, model_version: ModelVersion, dataset_version: DatasetVersion,
                  explain_rows: int | None = None, word_pairs: list[list[str]] | None = None,
                  counterfactual_groups: list[str] | None = None) -> Audit:
    if model_version.status != VersionStatus.READY:
        raise InvalidState(f"{model_version} is {model_version.status}; only a ready version can be audited.")
    unknown = set(dataset_version.label_names) - set(model_version.label_names)
    if unknown:
        raise ValidationFailed(
            f"The dataset has labels the model does not know: {', '.join(sorted(unknown))}.", field="dataset_version")
    config = dict(DEFAULT_CONFIG)
    if explain_rows is not None:
        if not 0 <= int(explain_rows) <= 500:
            raise ValidationFailed("Explained rows must be between 0 and 500.", field="explain_rows")
        config["explain_rows"] = int(explain_rows)
    mitigation = (model_version.training_config or {}).get("mitigation")
    if mitigation and mitigation["attribute"] not in dataset_version.sensitive_attributes:
        raise ValidationFailed(
            f"{model_version} decides with thresholds per '{mitigation['attribute']}', which this dataset version "
            f"does not declare as a sensitive attribute.", field="dataset_version")
    config["counterfactual"] = counterfactual_config(word_pairs=word_pairs, groups=counterfactual_groups)
    # The rules are copied into the audit so that its stored verdict can always be re-derived.
    config["fairness_rules"] = [dict(rule) for rule in settings.FAIRNESS_DEFAULT_RULES]
    audit = Audit.objects.create(model_version=model_version, dataset_version=dataset_version, requested_by=actor,
                                 config=config, artifact_digest=model_version.artifact_digest)
    job = jobs.job_create(kind="audit", subject=audit, created_by=actor)
    audit_log_append(actor=actor, action="audit.requested", obj=audit,
                     payload={"model_version": model_version.pk, "artifact_digest": model_version.artifact_digest,
                              "dataset_version": dataset_version.pk, "dataset_sha256": dataset_version.sha256,
                              "config": config, "job": job.pk})
    enqueue(AUDIT_TASK, job.pk)
    return audit


def counterfactual_config(*, word_pairs: list[list[str]] | None, groups: list[str] | None) -> dict:
    """The token-swap settings of an audit: the core's default pairs unless the requester gave some."""
    from models_core.counterfactual import DEFAULT_GROUPS, DEFAULT_WORD_PAIRS, counterfactual_report
    from models_core.errors import InputError

    pairs = [list(p) for p in (word_pairs if word_pairs else DEFAULT_WORD_PAIRS)]
    names = list(groups) if groups else list(DEFAULT_GROUPS)
    if any(len(p) != 2 or not all(isinstance(w, str) and w.strip() for w in p) for p in pairs):
        raise ValidationFailed("Each word pair needs two non-empty words.", field="word_pairs")
    pairs = [[w.strip().lower() for w in p] for p in pairs]
    if len(names) != 2 or not all(isinstance(g, str) and g.strip() for g in names) or names[0] == names[1]:
        raise ValidationFailed("Name exactly two different groups.", field="counterfactual_groups")
    try:  # the core validates the pairs; with no texts it swaps and predicts nothing
        counterfactual_report([], lambda batch: None, word_pairs=pairs, groups=names)
    except InputError as exc:
        raise ValidationFailed(f"Word pairs: {exc}.", field="word_pairs") from exc
    return {"word_pairs": pairs, "groups": [g.strip() for g in names], "n_worst": COUNTERFACTUAL_WORST}


def audit_run(*, job_id: int) -> None:
    """Run one audit job (called by the worker). A repeat of a finished job changes nothing."""
    jobs.job_run(job_id=job_id, name="audit",
                 load=lambda job: Audit.objects.select_related("model_version", "dataset_version").get(
                     pk=job.subject_id),
                 done=lambda audit: audit.status == AuditStatus.COMPLETE, start=_audit_mark_running,
                 compute=_audit_compute, store=None, failed=_audit_failed)


def _audit_mark_running(audit: Audit) -> None:
    Audit.objects.filter(pk=audit.pk).update(status=AuditStatus.RUNNING, started_at=timezone.now(), error="")


def _audit_compute(audit: Audit, job: Job) -> None:
    """Compute the audit's results and store them: a failing store is recorded on the audit too."""
    from models_core.artifacts import load_artifact
    from models_core.fairness import evaluate_thresholds, fairness_report
    from models_core.inference import predict_dataset

    version, data = audit.model_version, audit.dataset_version
    jobs.job_progress(job=job, stage="loading model", percent=2, force=True)
    bundle, metadata = load_artifact(artifact_local_dir(artifact_path=version.artifact_path),
                                     expected_digest=version.artifact_digest)
    records = list(DatasetRecord.objects.filter(version=data).order_by("row_index")
                   .values_list("pk", "subject_id", "text", "label", "attributes"))
    texts = [r[2] for r in records]
    inference = predict_dataset(bundle, texts, progress=lambda p: jobs.job_progress(
        job=job, stage="inference", percent=5 + 0.5 * p.get("percent", 0)))
    label_index = {name: i for i, name in enumerate(version.label_names)}
    y_true = [label_index[r[3]] for r in records]
    sensitive = {attr: [r[4].get(attr, "") for r in records] for attr in data.sensitive_attributes}
    positive = label_index.get(data.positive_label, 1) if len(version.label_names) == 2 else None
    y_pred, decision = _decisions(inference, metadata.get("mitigation"), records, label_index, positive)
    jobs.job_progress(job=job, stage="counterfactual", percent=56, force=True)
    counterfactual = _counterfactual(bundle, texts, inference.probabilities, audit.config,
                                     positive if positive is not None else label_index.get(data.positive_label, 0))
    jobs.job_progress(job=job, stage="fairness", percent=62, force=True)
    fairness = fairness_report(y_true, y_pred, sensitive, labels=list(range(len(version.label_names))),
                               positive_label=positive if positive is not None else 1,
                               n_boot=audit.config.get("n_boot", 1000), seed=audit.config.get("seed", 0))
    metrics = {**_performance(y_true, y_pred, version.label_names), "decision": decision}
    rules = audit.config.get("fairness_rules", settings.FAIRNESS_DEFAULT_RULES)
    results = {"metrics": metrics, "fairness": fairness, "compute": inference.compute,
               "counterfactual": counterfactual, "fairness_verdict": evaluate_thresholds(fairness, rules)}
    explain_n = audit.config.get("explain_rows", 0)
    if explain_n:
        jobs.job_progress(job=job, stage="explanations", percent=70, force=True)
        results["explanations"] = _explain(bundle, texts, y_true, y_pred, sensitive, explain_n,
                                           audit.config, job)
    jobs.job_progress(job=job, stage="storing results", percent=97, force=True)
    _audit_store(audit=audit, job=job, records=records, predictions=y_pred,
                 probabilities=inference.probabilities, label_names=version.label_names, results=results)


def _decisions(inference, mitigation: dict | None, records, label_index: dict[str, int],
               positive: int | None) -> tuple[list[int], dict]:
    """The predicted class of each row: the argmax, or for a mitigated version its group thresholds on the
    positive-class probability (the probabilities themselves are unchanged)."""
    from models_core.mitigation import apply_thresholds

    if not mitigation:
        return [int(p) for p in inference.predictions], {"rule": "argmax"}
    attribute = mitigation["attribute"]
    # The thresholds were fitted on the probability of the label the mitigation named positive.
    positive = label_index.get(mitigation.get("positive_label"), positive)
    groups = [r[4].get(attribute, "") for r in records]
    scores = inference.probabilities[:, positive]
    chosen = apply_thresholds(scores, groups, mitigation["thresholds"], seed=mitigation["seed"])
    negative = 1 - positive
    return ([positive if c else negative for c in chosen],
            {"rule": "group thresholds", "constraint": mitigation["thresholds"]["constraints"],
             "attribute": attribute, "seed": mitigation["seed"]})


def _counterfactual(bundle, texts: list[str], probabilities, config: dict, positive: int) -> dict:
    """Token-swap test over the audited texts, predicting only the changed variants (the originals are
    already scored). Flips are judged on the model's argmax, before any group thresholds: a swap changes
    the words, not the person's recorded group."""
    import numpy as np

    from models_core.counterfactual import counterfactual_report
    from models_core.inference import predict_dataset

    settings_ = config.get("counterfactual") or counterfactual_config(word_pairs=None, groups=None)
    n = len(texts)

    def predict_proba(batch: list[str]):
        if batch[:n] != texts:  # not the layout this shortcut relies on: score everything
            return predict_dataset(bundle, batch).probabilities
        variants = batch[n:]
        extra = predict_dataset(bundle, variants).probabilities if variants else probabilities[:0]
        return np.vstack([probabilities, extra])

    report = counterfactual_report(texts, predict_proba, word_pairs=settings_["word_pairs"],
                                   groups=settings_["groups"], positive_class=positive,
                                   n_worst=settings_.get("n_worst", COUNTERFACTUAL_WORST))
    report["decision"] = "argmax of the model's probabilities (before any group thresholds)"
    return report


def _performance(y_true: list[int], y_pred: list[int], label_names: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "majority_baseline_accuracy": max(y_true.count(i) for i in labels) / max(1, len(y_true)),
        "per_class": [{"label": label_names[i], "precision": float(precision[i]), "recall": float(recall[i]),
                       "f1": float(f1[i]), "support": int(support[i])} for i in labels],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "label_names": list(label_names),
    }


def _explain(bundle, texts, y_true, y_pred, sensitive, n, config, job) -> dict:
    from models_core.explain import explain_sample
    from models_core.explain_global import select_sample

    # only rows with something to attribute to (a blank text has no tokens; the explainer refuses it)
    candidates = [i for i, text in enumerate(texts) if text.strip()]
    correct = [y_true[i] == y_pred[i] for i in candidates]
    first_attr = next(iter(sensitive), None)
    groups = [sensitive[first_attr][i] for i in candidates] if first_attr else ["all"] * len(candidates)
    rows = [candidates[k] for k in select_sample(groups, correct, n=n, seed=config.get("seed", 0))]
    report = explain_sample(bundle, [texts[i] for i in rows], [y_pred[i] for i in rows],
                            {a: [v[i] for i in rows] for a, v in sensitive.items()},
                            methods=tuple(config.get("explain_methods", ("shap", "lime", "ig"))),
                            seed=config.get("seed", 0),
                            progress=lambda p: jobs.job_progress(job=job, stage="explanations",
                                                                 percent=70 + 0.25 * p.get("percent", 0)))
    report["row_indices"] = list(rows)
    return report


def result_hash(results: dict) -> str:
    return hashlib.sha256(canonical_json(results).encode()).hexdigest()


@transaction.atomic
def _audit_store(*, audit: Audit, job: Job, records, predictions, probabilities, label_names,
                 results: dict) -> None:
    locked = Audit.objects.select_for_update().get(pk=audit.pk)
    if locked.status == AuditStatus.COMPLETE:
        return
    # A retried run replaces whatever a dead attempt left half-written, so rows are never duplicated.
    AuditResult.objects.filter(audit=audit).delete()
    Prediction.objects.filter(audit=audit).delete()
    clean = {kind: _json_safe(data) for kind, data in results.items()}
    AuditResult.objects.bulk_create(
        AuditResult(audit=audit, kind=kind, data=data, sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
        for kind, data in clean.items())
    Prediction.objects.bulk_create(
        (Prediction(audit=audit, record_id=pk, subject_id=subject, predicted_label=label_names[int(predicted)],
                    probabilities=[round(float(x), 6) for x in row])
         for (pk, subject, *_), predicted, row in zip(records, predictions, probabilities)), batch_size=2000)
    digest = result_hash(clean)
    metrics = clean["metrics"]
    summary = {"accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"], "n": metrics["n"]}
    locked.status, locked.finished_at, locked.result_hash, locked.summary = (
        AuditStatus.COMPLETE, timezone.now(), digest, summary)
    locked.save(update_fields=["status", "finished_at", "result_hash", "summary"])
    audit_log_append(actor=job.created_by, action="audit.completed", obj=audit,
                     payload={"result_hash": digest, "summary": summary, "job": job.pk})
    # approvals listens: a newer audit that fails a gate voids the approvals of the version's open requests.
    audit_completed.send(sender=Audit, audit=locked, actor=job.created_by)
    jobs.job_complete(job=job)


@transaction.atomic
def audit_job_failed(*, job_id: int, error: str) -> None:
    """Record on the audit that its job failed for good outside audit_run (the task gave up); once."""
    audit = Audit.objects.select_for_update().get(pk=Job.objects.get(pk=job_id).subject_id)
    if audit.status not in (AuditStatus.COMPLETE, AuditStatus.FAILED):
        _audit_failed(audit=audit, job_id=job_id, error=error)


@transaction.atomic
def _audit_failed(audit: Audit, job_id: int, error: str) -> None:
    Audit.objects.filter(pk=audit.pk).update(status=AuditStatus.FAILED, error=error[:4000],
                                             finished_at=timezone.now())
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=Job.objects.get(pk=job_id).created_by, action="audit.failed", obj=audit,
                     payload={"error": error[:500], "job": job_id})


def _json_safe(value):
    """NaN and infinities are not JSON: store them as null."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value

"""Writes of the audits domain: request an audit, and run it (the worker's side)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.predicates import object_require_role, object_require_visible
from governance.audits.models import Audit, AuditResult, AuditStatus, Prediction
from governance.audits.robustness import robustness_config
from governance.audits.signals import audit_completed
from governance.auditlog.chain import canonical_json
from governance.auditlog.services import audit_log_append
from governance.datasets.models import DatasetRecord, DatasetVersion
from governance.errors import InvalidState, ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.registry.artifact_store import artifact_local_dir
from governance.audits.memorisation import AUDIT_KIND, memorisation_compute, memorisation_config
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.models import ModelVersion
from governance.keys import text_digest
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER

AUDIT_TASK = "governance.run_audit"
DEFAULT_CONFIG = {"n_boot": 1000, "seed": 0, "explain_rows": 50, "explain_methods": ["shap", "lime", "ig"]}
COUNTERFACTUAL_WORST = 5


@transaction.atomic
def audit_request(*, actor, model_version: ModelVersion, dataset_version: DatasetVersion,
                  explain_rows: int | None = None, word_pairs: list[list[str]] | None = None,
                  counterfactual_groups: list[str] | None = None, overlap_justification: str = "",
                  scorer_version: ModelVersion | None = None, robustness: bool = False,
                  robustness_expectations: list[dict] | None = None,
                  robustness_max_texts: int | None = None) -> Audit:
    """Queue an audit of `model_version` (of a project where the actor is an ML engineer) on
    `dataset_version` (one they see). An audit on rows the model was trained on is refused unless
    `overlap_justification` says why (then the report flags it: config["training_overlap"]). With
    `robustness`, the invariance suites, the directional `robustness_expectations` and the adversarial
    search too (audits.robustness). A generative version gets a memorisation audit (audits.memorisation),
    with prompt swap when a `scorer_version` classifier is given."""
    if actor is not None:
        object_require_role(actor, model_version, ML_ENGINEER, what="model version")
        object_require_visible(actor, dataset_version, what="dataset version")
    if model_version.status != VersionStatus.READY:
        raise InvalidState(f"{model_version} is {model_version.status}; only a ready version can be audited.")
    if model_version.kind == ModelKind.DECODER:
        return _audit_create(actor=actor, model_version=model_version, dataset_version=dataset_version,
                             config=memorisation_config(scorer_version=scorer_version, actor=actor))
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
    overlap = training_overlap(model_version=model_version, dataset_version=dataset_version,
                               justification=overlap_justification)
    if overlap is not None:
        config["training_overlap"] = overlap
    if robustness:
        config["robustness"] = robustness_config(expectations=robustness_expectations, max_texts=robustness_max_texts,
                                                 seed=config["seed"], n_boot=config["n_boot"])
    elif robustness_expectations:
        raise ValidationFailed("Directional expectations are tested with the robustness suites: switch them on.",
                               field="robustness_expectations")
    # The rules are copied into the audit so that its stored verdict can always be re-derived.
    config["fairness_rules"] = [dict(rule) for rule in settings.FAIRNESS_DEFAULT_RULES]
    return _audit_create(actor=actor, model_version=model_version, dataset_version=dataset_version, config=config)


def _audit_create(*, actor, model_version: ModelVersion, dataset_version: DatasetVersion, config: dict) -> Audit:
    audit = Audit.objects.create(model_version=model_version, dataset_version=dataset_version, requested_by=actor,
                                 config=config, artifact_digest=model_version.artifact_digest)
    job = jobs.job_create(kind="audit", subject=audit, created_by=actor)
    audit_log_append(actor=actor, action="audit.requested", obj=audit,
                     payload={"model_version": model_version.pk, "artifact_digest": model_version.artifact_digest,
                              "dataset_version": dataset_version.pk, "dataset_sha256": dataset_version.sha256,
                              "config": config, "job": job.pk})
    enqueue(AUDIT_TASK, job.pk)
    return audit


OVERLAP_REASON_MIN = 10


def training_overlap(*, model_version: ModelVersion, dataset_version: DatasetVersion,
                     justification: str) -> dict | None:
    """None when no row of `dataset_version` is a row the model was trained on; otherwise the overlap to
    record on the audit, if the requester justified it (ValidationFailed when not)."""
    from governance.datasets.splits import rows_in_common

    trained_on = model_version.dataset_version
    ancestor = model_version
    while trained_on is None and ancestor.parent_id is not None:  # a mitigated child: its parent's data
        ancestor = ancestor.parent
        trained_on = ancestor.dataset_version
    if trained_on is None:
        return None
    shared = rows_in_common(version=dataset_version, other=trained_on)
    if shared == 0:
        return None
    justification = (justification or "").strip()
    if len(justification) < OVERLAP_REASON_MIN:
        raise ValidationFailed(
            f"{shared} of the {dataset_version.row_count} rows of {dataset_version} are rows {model_version} was "
            f"trained on ({trained_on}); figures on them overstate how it does on new people. Audit a held-out "
            f"version (a split's holdout part), or give a justification (at least {OVERLAP_REASON_MIN} characters) "
            f"to audit anyway: the report will be flagged.", field="dataset_version")
    return {"rows": shared, "of": dataset_version.row_count, "trained_on": trained_on.pk,
            "trained_on_name": str(trained_on), "justification": justification}


def counterfactual_config(*, word_pairs: list[list[str]] | None, groups: list[str] | None) -> dict:
    """The token-swap settings of an audit: the core's default pairs unless the requester gave some."""
    from models_core.errors import InputError
    from models_core.fairness.counterfactual import DEFAULT_GROUPS, DEFAULT_WORD_PAIRS, counterfactual_report

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
    # A new attempt starts its provisional results afresh.
    Audit.objects.filter(pk=audit.pk).update(status=AuditStatus.RUNNING, started_at=timezone.now(), error="",
                                             provisional={})


def _audit_compute(audit: Audit, job: Job) -> None:
    """Compute the audit's results (models_core.audit) and store them: a failing store is recorded on the audit too."""
    from models_core.audit import compute_audit
    from models_core.encoder.artifacts import load_artifact

    if audit.config.get("kind") == AUDIT_KIND:
        return memorisation_compute(audit, job)
    version, data = audit.model_version, audit.dataset_version
    jobs.job_progress(job=job, stage="loading model", percent=2, force=True)
    bundle, metadata = load_artifact(artifact_local_dir(artifact_path=version.artifact_path),
                                     expected_digest=version.artifact_digest)
    records = list(DatasetRecord.objects.filter(version=data).order_by("row_index")
                   .values_list("pk", "subject_id", "text", "label", "attributes", "weight"))
    config = {**audit.config,
              "fairness_rules": audit.config.get("fairness_rules", settings.FAIRNESS_DEFAULT_RULES),
              "counterfactual": audit.config.get("counterfactual") or counterfactual_config(word_pairs=None,
                                                                                            groups=None)}
    weights = [r[5] for r in records]
    weighted = any(w != 1.0 for w in weights)  # a reweighed version (datasets.services.dataset_version_reweigh)
    # A missing attribute value stays "" here (the mitigation's thresholds know groups by their stored value);
    # the fairness engine reports it as the explicit group "(missing)".
    provisional = _ProvisionalResults(audit=audit, job=job)
    computed = compute_audit(
        bundle, [r[2] for r in records], [r[3] for r in records],
        {attr: [r[4].get(attr, "") for r in records] for attr in data.sensitive_attributes}, config,
        label_names=version.label_names, positive_label=data.positive_label, mitigation=metadata.get("mitigation"),
        progress=lambda p: jobs.job_progress(job=job, stage=p["stage"], percent=p["percent"],
                                             **({"eta_s": p["eta_s"]} if "eta_s" in p else {})),
        on_stage=provisional.store,
        sample_weight=weights if weighted else None,
        weighting={"column": "DatasetRecord.weight", "dataset_version": data.pk,
                   "source": data.note or f"row weights of {data}"} if weighted else None)
    jobs.job_progress(job=job, stage="storing results", percent=97, force=True)
    _audit_store(audit=audit, job=job, records=records, predictions=computed.predictions,
                 probabilities=computed.probabilities, label_names=version.label_names, results=computed.results)


class _ProvisionalResults:
    """Results as they come: each stage's result, once computed, goes to `Audit.provisional` (the report page
    shows it under a "provisional" banner) and the job's detail counts the stored stages (the page's poll
    refreshes its sections when the count grows). Not evidence: no hash, no verdict, no audit-log entry (the
    final results are logged once, by _audit_store, which empties this field in the same transaction). Only a
    running audit's field is written, so a late write from an attempt that lost its job cannot refill it."""

    def __init__(self, *, audit: Audit, job: Job) -> None:
        self.audit, self.job, self.results = audit, job, {}

    def store(self, kind: str, data) -> None:
        if kind == "fairness_verdict":  # final only (models_core.audit never sends it; refused if it ever did)
            return
        self.results[kind] = _json_safe(data)
        Audit.objects.filter(pk=self.audit.pk, status=AuditStatus.RUNNING).update(provisional=self.results)
        explained = (data.get("partial") or {}).get("explained") if kind == "explanations" else None
        jobs.job_progress(job=self.job, stage=self.job.stage or kind, percent=self.job.percent, force=True,
                          stored_stages=len(self.results) + (explained or 0),
                          **({"explained": explained} if explained else {}))


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
    locked.status, locked.finished_at, locked.result_hash, locked.summary, locked.provisional = (
        AuditStatus.COMPLETE, timezone.now(), digest, summary, {})
    locked.save(update_fields=["status", "finished_at", "result_hash", "summary", "provisional"])
    # Each result's digest beside the result hash, in the hash-chained log: a result later rewritten in place by
    # a logged redaction (erasure, retention) can be told from one edited behind the log's back.
    audit_log_append(actor=job.created_by, action="audit.completed", obj=audit,
                     payload={"result_hash": digest, "summary": summary, "job": job.pk,
                              "result_digests": {kind: hashlib.sha256(canonical_json(data).encode()).hexdigest()
                                                 for kind, data in clean.items()}})
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
                                             finished_at=timezone.now(), provisional={})
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=Job.objects.get(pk=job_id).created_by, action="audit.failed", obj=audit,
                     payload={"error": text_digest(error), "job": job_id})


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


REVEAL_REASON_MIN = 10


@transaction.atomic
def audit_text_reveal(*, actor, audit: Audit, ref: str, reason: str) -> str:
    """The one stored text that `ref` names (audits.minimisation), unmasked, for a reader who gives a reason.

    The reveal is appended to the audit log with the ref and the reason, never the text, and the reason is
    logged masked too (the log is append-only: personal data written to it could never be erased); the caller
    has checked the reader's role (reviewer or compliance officer)."""
    from governance.audits.minimisation import text_at
    from models_core.pii import mask_text

    object_require_role(actor, audit, REVIEWER, COMPLIANCE_OFFICER, what="audit")
    reason = (reason or "").strip()
    if len(reason) < REVEAL_REASON_MIN:
        raise ValidationFailed(f"Say why you need to see this text (at least {REVEAL_REASON_MIN} characters); "
                               "the reason is kept in the audit log.", field="reason")
    results = {r.kind: r.data for r in AuditResult.objects.filter(audit=audit)}
    text = text_at(results, ref or "")
    if text is None:
        raise ValidationFailed(f"Audit #{audit.pk} shows no text at {ref!r}.", field="ref")
    audit_log_append(actor=actor, action="audit.text_revealed", obj=audit,
                     payload={"ref": ref, "reason": mask_text(reason), "result_hash": audit.result_hash})
    return text

"""Memorisation audits of generative model versions (issue 23): canary exposure, extraction of the training
records' personal data, perplexity on a holdout and, with a scorer classifier, prompt-swap bias
(models_core.generative.audit). Requested like any audit (`audit_request` sends decoder versions here), run
by the same job kind, stored as AuditResult rows of kinds "perplexity", "canaries", "extraction",
"prompt_swap" and "compute", never edited.

The extraction probe reads the records the version was trained on (its own dataset version): that is where
its memorised personal data would come from. Its per-subject results are what an erasure decision cites
(`subject_extraction`). The perplexity is computed on the audited dataset version, or, when that is the
training version itself, on the holdout the training split off (same seed and fraction).
"""

from __future__ import annotations

import hashlib
import math

from django.db import transaction
from django.utils import timezone

from governance.auditlog.chain import canonical_json
from governance.auditlog.services import audit_log_append
from governance.audits.models import Audit, AuditResult, AuditStatus
from governance.audits.signals import audit_completed
from governance.errors import ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.models import Job
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.models import ModelVersion

AUDIT_KIND = "memorisation"
DEFAULTS = {"n_candidates": 2000, "seed": 0, "confidence": 0.95, "max_records": 300, "n_samples": 6,
            "n_boot": 1000}


def memorisation_config(*, scorer_version: ModelVersion | None, actor) -> dict:
    """The settings of a memorisation audit; a scorer must be a ready classifier of a project the actor sees."""
    from governance.accounts.predicates import object_require_visible

    config = {"kind": AUDIT_KIND, **DEFAULTS, "scorer_version": None}
    if scorer_version is not None:
        if actor is not None:
            object_require_visible(actor, scorer_version, what="model version")
        if scorer_version.kind != ModelKind.CLASSIFIER or scorer_version.status != VersionStatus.READY:
            raise ValidationFailed("The prompt-swap scorer must be a ready classifier version.", field="scorer_version")
        labels = list(scorer_version.label_names)
        positive = scorer_version.dataset_version.positive_label if scorer_version.dataset_version_id else ""
        config["scorer_version"] = {"id": scorer_version.pk, "digest": scorer_version.artifact_digest,
                                    "positive_label": positive if positive in labels else labels[-1]}
    return config


def _holdout_texts(audit: Audit, training_texts: list[str], training_config: dict) -> list[str]:
    from governance.registry.decoders import dataset_texts
    from models_core.decoder.training import holdout_split

    version = audit.model_version
    if version.dataset_version_id is None:  # imported: all of the audited texts are held out from this training
        return list(training_texts)
    if audit.dataset_version_id != version.dataset_version_id:
        return dataset_texts(dataset_version=audit.dataset_version)
    _, holdout = holdout_split(len(training_texts), training_config.get("val_fraction", 0.1),
                               training_config.get("seed", 0))
    return [training_texts[i] for i in holdout]


def _scorer(config: dict):
    from governance.registry.artifact_store import artifact_local_dir
    from models_core.encoder.artifacts import load_artifact

    pinned = config.get("scorer_version")
    if not pinned:
        return None
    version = ModelVersion.objects.get(pk=pinned["id"])
    bundle, _ = load_artifact(artifact_local_dir(artifact_path=version.artifact_path), expected_digest=pinned["digest"])
    # Class columns follow the version's label names (the registry's order; the artifact may number them).
    column = list(version.label_names).index(pinned["positive_label"])
    return lambda texts: bundle.predict_proba(texts)[:, column]


def memorisation_compute(audit: Audit, job: Job) -> None:
    from governance.datasets.selectors import records_of
    from governance.registry.decoders import decoder_load
    from models_core.generative.audit import compute_generative_audit

    version = audit.model_version
    jobs.job_progress(job=job, stage="loading model", percent=2, force=True)
    bundle, metadata = decoder_load(version=version)
    # The records it trained on; an imported model's training data is not here: the audited version's records
    # are probed instead (the data it must not have memorised or reproduce).
    probed = version.dataset_version or audit.dataset_version
    rows = [(t, s) for t, s in records_of(version=probed).values_list("text", "subject_id")
            if isinstance(t, str) and t.strip()]
    texts, subjects = [r[0] for r in rows], [r[1] for r in rows]
    config = {k: v for k, v in audit.config.items() if k in DEFAULTS}
    results = compute_generative_audit(
        bundle, metadata.get("canaries"), training_texts=texts, training_subjects=subjects,
        holdout_texts=_holdout_texts(audit, texts, version.training_config), config=config,
        score=_scorer(audit.config), progress=lambda p: jobs.job_progress(job=job, stage=p["stage"],
                                                                          percent=2 + 0.94 * p["percent"]))
    jobs.job_progress(job=job, stage="storing results", percent=97, force=True)
    memorisation_store(audit=audit, job=job, results=results)


def memorisation_summary(results: dict) -> dict:
    canaries, extraction = results.get("canaries") or {}, results.get("extraction") or {}
    swap = results.get("prompt_swap")
    return {"kind": AUDIT_KIND, "holdout_perplexity": (results.get("perplexity") or {}).get("holdout"),
            "max_exposure": canaries.get("max_exposure") if canaries.get("available") else None,
            "findings_probed": extraction.get("findings_probed"),
            "findings_extracted": extraction.get("findings_extracted"),
            "prompt_swap_difference": swap.get("mean_difference") if swap else None}


@transaction.atomic
def memorisation_store(*, audit: Audit, job: Job, results: dict) -> None:
    locked = Audit.objects.select_for_update().get(pk=audit.pk)
    if locked.status == AuditStatus.COMPLETE:
        return
    AuditResult.objects.filter(audit=audit).delete()
    clean = {kind: _finite(data) for kind, data in results.items()
             if kind in ("perplexity", "canaries", "extraction", "prompt_swap", "compute") and data is not None}
    digests = {kind: hashlib.sha256(canonical_json(data).encode()).hexdigest() for kind, data in clean.items()}
    AuditResult.objects.bulk_create(AuditResult(audit=audit, kind=kind, data=data, sha256=digests[kind])
                                    for kind, data in clean.items())
    summary = memorisation_summary(clean)
    locked.status, locked.finished_at, locked.result_hash, locked.summary = (
        AuditStatus.COMPLETE, timezone.now(), hashlib.sha256(canonical_json(clean).encode()).hexdigest(), summary)
    locked.save(update_fields=["status", "finished_at", "result_hash", "summary"])
    audit_log_append(actor=job.created_by, action="audit.completed", obj=audit,
                     payload={"result_hash": locked.result_hash, "summary": summary, "job": job.pk,
                              "result_digests": digests})
    audit_completed.send(sender=Audit, audit=locked, actor=job.created_by)
    jobs.job_complete(job=job)


def _finite(value):
    """NaN and infinities are not JSON: null (the core's results are plain Python numbers otherwise)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def subject_extraction(*, subject_id: str, model_version: ModelVersion) -> dict | None:
    """What the latest complete memorisation audit of `model_version` found about one subject: None when no
    such audit exists; else {"audit", "finished_at", "records", "findings", "extracted", "extracted_kinds"}."""
    audit = (Audit.objects.filter(model_version=model_version, status=AuditStatus.COMPLETE,
                                  config__kind=AUDIT_KIND).order_by("-finished_at").first())
    if audit is None:
        return None
    row = AuditResult.objects.filter(audit=audit, kind="extraction").values_list("data", flat=True).first() or {}
    found = (row.get("by_subject") or {}).get(str(subject_id))
    base = {"audit": audit.pk, "finished_at": audit.finished_at.isoformat() if audit.finished_at else None}
    if found is None:
        return {**base, "records": 0, "findings": 0, "extracted": 0, "extracted_kinds": []}
    return {**base, **found}


@transaction.atomic
def extraction_subject_redact(*, subject_id: str) -> list[dict]:
    """Remove an erased subject from every stored extraction probe: their per-subject entry and their records'
    entries (masked findings) go; the counts by kind, computed before the erasure, stay. Each
    rewritten result gets its new digest; the audit's result hash keeps naming what was computed, as for the
    other erasure rewrites (audits.erasure). Returns [{audit, result, sha256_before, sha256_after}]."""
    from governance.audits.report import report_cache_forget

    subject_id = str(subject_id)
    changed = []
    rows = AuditResult.objects.select_for_update().filter(kind="extraction", data__by_subject__has_key=subject_id)
    for result in rows.order_by("pk"):
        data = result.data
        data["by_subject"].pop(subject_id, None)
        data["records"] = [r for r in data.get("records", []) if r.get("subject_id") != subject_id]
        before = result.sha256
        result.sha256 = hashlib.sha256(canonical_json(data).encode()).hexdigest()
        result.data = data
        result.save(update_fields=["data", "sha256"])
        changed.append({"audit": result.audit_id, "result": "extraction", "sha256_before": before,
                        "sha256_after": result.sha256})
    if changed:
        audit_ids = sorted({c["audit"] for c in changed})
        report_cache_forget(audit_ids=audit_ids)
        transaction.on_commit(lambda: report_cache_forget(audit_ids=audit_ids))
    return changed

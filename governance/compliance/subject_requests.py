"""Writes for data-subject requests: register, extend, answer (Art. 15/20, 12(3)) and erase (Art. 17).

The raw subject id lives only on the request row while it is handled, and in the data itself; the audit
log and the erasure certificate carry the salted hash (compliance/subjects.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from governance.auditlog.chain import canonical_json
from governance.auditlog.exports import ExportFile, export_render
from governance.auditlog.services import audit_log_append
from governance.compliance import exports
from governance.compliance.erasure import redaction_note, stores_clean
from governance.compliance.identifiers import distinctive_terms, records_traces
from governance.compliance.models import (ErasureException, ErasureGround, ErasureImpact, ModelDecision, RequestKind,
                                          SubjectRequest, SubjectRequestStatus)
from governance.compliance.subjects import (HASH_ALGORITHM, normalise_subject_id, salt_fingerprint, subject_hash,
                                            subject_records)
from governance.datasets.models import DatasetRecord, DatasetVersion
from governance.datasets.pii_scans import pii_scan_request
from governance.errors import InvalidState, ValidationFailed
from governance.audits.memorisation import extraction_subject_redact, subject_extraction
from governance.registry.choices import ModelKind
from governance.registry.models import ModelVersion
from governance.keys import text_digest
from governance.roles import COMPLIANCE_OFFICER

ANSWER_MONTHS = 1          # Art. 12(3): within one month of receipt
MAX_EXTENSION_MONTHS = 2   # ... extendable by two further months
MIN_JUSTIFICATION = 20


def _today() -> date:
    return timezone.localdate()


@transaction.atomic
def subject_request_register(*, actor, kind: str, subject_id: str, received_on: date | None = None,
                             channel: str = "", notes: str = "") -> SubjectRequest:
    if kind not in RequestKind.values:
        raise ValidationFailed(f"'{kind}' is not a kind of request.", field="kind")
    subject_id = normalise_subject_id(subject_id)
    if not subject_id:
        raise ValidationFailed("The subject's identifier is required.", field="subject_id")
    if len(subject_id) > 200:
        raise ValidationFailed("The subject's identifier is longer than 200 characters.", field="subject_id")
    received_on = received_on or _today()
    if received_on > _today():
        raise ValidationFailed("The date of receipt cannot be in the future.", field="received_on")
    prefix = "AR" if kind == RequestKind.ACCESS else "ER"
    request = SubjectRequest.objects.create(
        reference=f"{prefix}-{received_on:%Y%m%d}-{secrets.token_hex(3).upper()}", kind=kind,
        subject_id=subject_id, subject_hash=subject_hash(subject_id), received_on=received_on,
        due_on=received_on + relativedelta(months=ANSWER_MONTHS), channel=channel.strip()[:100], notes=notes,
        created_by=actor)
    audit_log_append(actor=actor, action="subject_request.registered", obj=request,
                     payload={"reference": request.reference, "kind": kind, "subject_hash": request.subject_hash,
                              "received_on": received_on.isoformat(), "due_on": request.due_on.isoformat()})
    return request


def _lock_open(request: SubjectRequest, kind: str | None = None) -> SubjectRequest:
    locked = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    if kind and locked.kind != kind:
        raise InvalidState(f"{locked} is not an {kind} request.")
    if locked.status != SubjectRequestStatus.OPEN:
        raise InvalidState(f"{locked} is {locked.get_status_display().lower()}; only an open request can change.")
    return locked


@transaction.atomic
def subject_request_extend(*, actor, request: SubjectRequest, months: int, reason: str) -> SubjectRequest:
    """Art. 12(3): extend by up to two months, with reasons, decided within the first month."""
    locked = _lock_open(request)
    if locked.extended_due_on is not None:
        raise InvalidState(f"{locked} was already extended to {locked.extended_due_on}.")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ValidationFailed("An extension is one or two further months (Art. 12(3)).", field="months")
    reason = (reason or "").strip()
    if len(reason) < MIN_JUSTIFICATION:
        raise ValidationFailed(f"State the reasons for the extension (at least {MIN_JUSTIFICATION} characters); "
                               f"the subject must be told them.", field="reason")
    if _today() > locked.due_on:
        raise InvalidState("The extension must be decided, and the subject told, within the first month "
                           f"(by {locked.due_on}).")
    locked.extended_due_on = locked.due_on + relativedelta(months=months)
    locked.extension_reason = reason
    locked.save(update_fields=["extended_due_on", "extension_reason"])
    audit_log_append(actor=actor, action="subject_request.extended", obj=locked,
                     payload={"reference": locked.reference, "subject_hash": locked.subject_hash, "months": months,
                              "due_on": locked.extended_due_on.isoformat(), "reason": text_digest(reason)})
    return locked


@transaction.atomic
def access_request_answered(*, actor, request: SubjectRequest, content_sha256: str) -> SubjectRequest:
    """Close an access request once its answer was exported (a repeat export leaves it answered)."""
    locked = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    if locked.kind != RequestKind.ACCESS:
        raise InvalidState(f"{locked} is not an access request.")
    if locked.status == SubjectRequestStatus.OPEN:
        locked.status, locked.closed_at = SubjectRequestStatus.ANSWERED, timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        audit_log_append(actor=actor, action="subject_request.answered", obj=locked,
                         payload={"reference": locked.reference, "subject_hash": locked.subject_hash,
                                  "content_sha256": content_sha256})
    return locked


def access_answer_export(*, actor, request: SubjectRequest, fmt: str) -> ExportFile:
    """Render the answer to an access request (JSON, or the PDF letter), log it, and mark the request
    answered (a later export of the same request is logged too and leaves it answered)."""
    if request.kind != RequestKind.ACCESS:
        raise InvalidState(f"{request} is not an access request.")
    with transaction.atomic():
        export = export_render(
            actor=actor, schema=exports.ACCESS_ANSWER_SCHEMA, content=exports.access_answer(request), fmt=fmt,
            filename=f"access-answer-{request.reference}", title=f"Your access request {request.reference}",
            pdf_blocks=exports.access_answer_pdf)
        access_request_answered(actor=actor, request=request, content_sha256=export.document["content_sha256"])
    return export


def erasure_certificate_export(*, actor, request: SubjectRequest, fmt: str) -> ExportFile:
    """Render the certificate stored at fulfilment (its content hash is the request's certificate_sha256)."""
    if not request.certificate:
        raise InvalidState(f"{request} has no erasure certificate.")
    return export_render(
        actor=actor, schema=exports.ERASURE_CERTIFICATE_SCHEMA, content=request.certificate, fmt=fmt,
        filename=f"erasure-certificate-{request.reference}", title=f"Erasure certificate {request.reference}",
        pdf_blocks=exports.erasure_certificate_pdf)


# ------------------------------------------------------------------------------------------- erasure
def _validate_grounds(ground: str, exception: str, exception_reason: str) -> None:
    if ground not in ErasureGround.values:
        raise ValidationFailed("Choose the ground of the erasure (Art. 17(1)(a)–(f)).", field="ground")
    if exception not in ErasureException.values:
        raise ValidationFailed(f"'{exception}' is not an Art. 17(3) exception.", field="exception")
    if exception and len(exception_reason.strip()) < MIN_JUSTIFICATION:
        raise ValidationFailed(f"Explain why the exception applies (at least {MIN_JUSTIFICATION} characters).",
                               field="exception_reason")


@transaction.atomic
def erasure_request_fulfil(*, actor, request: SubjectRequest, ground: str, exception: str = "",
                           exception_reason: str = "", redact_mentions: bool = False) -> SubjectRequest:
    """Erase the subject everywhere in one transaction, or record the Art. 17(3) exception that refuses it.

    Removes the subject's records from every dataset version, the predictions audits made about them, and
    their text and identifiers from every store (compliance/erasure.py; with `redact_mentions`, also where
    other people's records mention them); flags each model version trained on those records with a required
    decision; blanks the raw id on every request for the subject; writes the certificate (salted hash only).
    """
    locked = _lock_open(request, RequestKind.ERASURE)
    _validate_grounds(ground, exception, exception_reason or "")
    now = timezone.now()
    locked.ground, locked.exception, locked.exception_reason = ground, exception, (exception_reason or "").strip()
    if exception:
        locked.status, locked.closed_at = SubjectRequestStatus.REFUSED, now
        locked.save(update_fields=["ground", "exception", "exception_reason", "status", "closed_at"])
        audit_log_append(actor=actor, action="erasure.refused", obj=locked,
                         payload={"reference": locked.reference, "subject_hash": locked.subject_hash,
                                  "ground": ground, "exception": exception,
                                  "reason": text_digest(locked.exception_reason)})
        return locked

    subject_id = locked.subject_id
    if not subject_id:
        raise InvalidState(f"The subject of {locked} was already erased; see the earlier certificate.")
    records = list(subject_records(subject_id=subject_id).select_for_update(of=("self",)))
    by_version: dict[int, set[int]] = {}
    for record in records:
        by_version.setdefault(record.version_id, set()).add(record.row_index)
    versions = {v.pk: v for v in DatasetVersion.objects.select_related("dataset").filter(pk__in=by_version)}
    texts = [r.text for r in records]
    others = (DatasetRecord.objects.filter(version_id__in=by_version).exclude(subject_id=subject_id)
              .values_list("text", flat=True).iterator(chunk_size=2000))
    traces = records_traces(subject_id=subject_id, records=records,
                            terms=distinctive_terms({subject_id: texts}, others=others))
    # Read before the stores are cleaned: the memorisation audits' per-subject results name the subject.
    extractions = {mv.pk: subject_extraction(subject_id=subject_id, model_version=mv) or {
        "audit": None, "note": "no memorisation audit of this version: extractability unknown"}
        for mv in ModelVersion.objects.filter(dataset_version_id__in=by_version, kind=ModelKind.DECODER)}
    extraction_redacted = extraction_subject_redact(subject_id=subject_id)
    cleaned = stores_clean(traces=traces, record_ids={r.pk for r in records}, rows_by_version=by_version,
                           note=redaction_note(f"erasure request {locked.reference}"), subject_id=subject_id,
                           mentions=redact_mentions)
    removed, removed_predictions = cleaned["records"], cleaned["predictions"]
    redacted = [r for r in cleaned["audit_results"] if r["result"] == "explanations"]

    impacts = []
    for model_version in ModelVersion.objects.select_related("model").filter(
            dataset_version_id__in=by_version).order_by("pk"):
        count = len(by_version[model_version.dataset_version_id])
        impacts.append(ErasureImpact.objects.create(request=locked, model_version=model_version,
                                                    records_removed=count,
                                                    extraction=extractions.get(model_version.pk)))
    recipients = sorted({v.dataset.recipients for v in versions.values() if v.dataset.recipients})
    others = SubjectRequest.objects.filter(subject_hash=locked.subject_hash).exclude(subject_id="")
    others.update(subject_id="")
    certificate = {
        "certificate": locked.reference,
        "subject": {"hash": locked.subject_hash, "algorithm": HASH_ALGORITHM, "salt_fingerprint": salt_fingerprint()},
        "received_on": locked.received_on.isoformat(),
        "fulfilled_at": now.isoformat(),
        "fulfilled_by": getattr(actor, "username", str(actor)),
        "ground": {"code": f"Art. 17(1)({ground})", "text": ErasureGround(ground).label},
        "exception": None,
        "records_removed": removed,
        "records_removed_total": len(records),
        "predictions_removed": removed_predictions,
        "served_decisions_removed": cleaned["served_decisions"],
        "explanations_redacted": redacted,
        "audit_results_redacted": cleaned["audit_results"] + extraction_redacted,
        "datasheets_redacted": cleaned["datasheets"],
        "drift_reports_redacted": cleaned["drifts"],
        "pii_scans_redacted": cleaned["pii_scans"],
        "mentions_redacted": cleaned["mentions"],
        "identifiers_searched": len(traces.identifiers),
        "stores": cleaned["stores"],
        "model_versions_flagged": [{"model_version": i.model_version_id, "model": i.model_version.model.name,
                                    "version": i.model_version.version, "records_removed": i.records_removed,
                                    "decision": i.decision, "extraction": i.extraction} for i in impacts],
        "art19_recipients_to_notify": recipients,
        "statement": ("The subject's records were removed from every dataset version in one transaction, and "
                      "their text and identifiers from every store listed under 'stores'; aggregate results "
                      "(metrics, fairness counts, datasheet figures) computed before the erasure are kept. The "
                      "subject is identified here only by a salted hash."),
    }
    body = canonical_json(certificate)
    locked.subject_id = ""
    locked.certificate = json.loads(body)
    locked.certificate_sha256 = hashlib.sha256(body.encode()).hexdigest()
    locked.status, locked.closed_at = SubjectRequestStatus.FULFILLED, now
    locked.save(update_fields=["subject_id", "ground", "exception", "exception_reason", "certificate",
                               "certificate_sha256", "status", "closed_at"])
    audit_log_append(actor=actor, action="erasure.fulfilled", obj=locked,
                     payload={"reference": locked.reference, "subject_hash": locked.subject_hash, "ground": ground,
                              "records_removed": len(records), "dataset_versions": sorted(by_version),
                              "predictions_removed": sum(p["predictions"] for p in removed_predictions),
                              "explanations_redacted": redacted,
                              "stores": {st["store"]: st["count"] for st in cleaned["stores"]},
                              "model_versions_flagged": [i.model_version_id for i in impacts],
                              "certificate_sha256": locked.certificate_sha256})
    return locked


def _derived_without_erased(*, actor, impact: ErasureImpact) -> DatasetVersion:
    """A new dataset version (parent = the one the model was trained on) holding its remaining records."""
    from governance.datasets.services import dataset_version_derive

    source = impact.model_version.dataset_version
    rows = [{"subject_id": s, "text": t, "label": label, "attributes": a, "weight": w}
            for s, t, label, a, w in DatasetRecord.objects.filter(version=source).order_by("row_index")
            .values_list("subject_id", "text", "label", "attributes", "weight")]
    if not rows:
        raise InvalidState(f"{source} has no records left to train on; keep the model with a justification "
                           f"or retire it.")
    derived = dataset_version_derive(actor=actor, source=source, rows=rows,
                                     note=f"{source} without the subjects erased by {impact.request.reference}.")
    pii_scan_request(actor=actor, version=derived)
    return derived


@transaction.atomic
def erasure_impact_decide(*, actor, impact: ErasureImpact, decision: str, justification: str = "") -> ErasureImpact:
    """Record the decision on a model version trained on erased records: retrain (enqueues training on a new
    dataset version without the subjects; the new model version's parent is the flagged one) or keep."""
    from governance.registry.services import model_version_request_training

    locked = ErasureImpact.objects.select_for_update(of=("self",)).select_related(
        "request", "model_version__model", "model_version__dataset_version").get(pk=impact.pk)
    if locked.decision != ModelDecision.PENDING:
        raise InvalidState(f"The decision on {locked.model_version} was already recorded "
                           f"({locked.get_decision_display().lower()}).")
    justification = (justification or "").strip()
    payload = {"reference": locked.request.reference, "subject_hash": locked.request.subject_hash,
               "model_version": locked.model_version_id, "decision": decision}
    extraction = locked.extraction
    if extraction is not None:  # the decision cites what the memorisation audit found about the subject
        payload["extraction"] = extraction
    if decision == ModelDecision.KEEP and extraction and extraction.get("extracted"):
        raise ValidationFailed(
            f"{locked.model_version} reproduced {extraction['extracted']} of the subject's personal-data findings "
            f"exactly ({', '.join(extraction.get('extracted_kinds', []))}; audit #{extraction.get('audit')}): "
            "keeping it keeps processing their data. Retrain it without the subject.", field="decision")
    if decision == ModelDecision.KEEP:
        if len(justification) < MIN_JUSTIFICATION:
            raise ValidationFailed(f"Keeping a model trained on erased records needs a justification (at least "
                                   f"{MIN_JUSTIFICATION} characters).", field="justification")
        payload["justification"] = text_digest(justification)
    elif decision == ModelDecision.RETRAIN:
        old = locked.model_version
        dataset_version = _derived_without_erased(actor=actor, impact=locked)
        cfg = old.training_config
        new = model_version_request_training(
            actor=actor, model_name=old.model.name, dataset_version=dataset_version, project=old.model.project_id,
            acting_as=COMPLIANCE_OFFICER,
            encoder=cfg.get("encoder", "pretrained"), freeze_encoder=cfg.get("freeze_encoder", True),
            epochs=cfg.get("epochs", 8), seed=cfg.get("seed", 0), dp=cfg.get("dp", False),
            dp_epsilon=cfg.get("dp_epsilon"), pretrained_encoder=old.pretrained_encoder, kind=old.kind,
            canaries=cfg.get("canaries", True))
        new.parent = old
        new.lineage_note = f"Retrained without the subjects erased by {locked.request.reference}."[:300]
        new.save(update_fields=["parent", "lineage_note"])
        locked.retrained_dataset_version, locked.retrained_model_version = dataset_version, new
        payload.update(dataset_version=dataset_version.pk, new_model_version=new.pk)
    else:
        raise ValidationFailed("Choose to retrain the model version or to keep it with a justification.",
                               field="decision")
    locked.decision, locked.justification = decision, justification
    locked.decided_by, locked.decided_at = actor, timezone.now()
    locked.save()
    audit_log_append(actor=actor, action="erasure.model_decision", obj=locked.model_version, payload=payload)
    return locked

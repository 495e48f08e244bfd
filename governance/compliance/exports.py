"""Compliance exports. Every export carries its schema, time, author, content SHA-256 and the log head."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass

from django.utils import timezone

from governance.compliance.chain import canonical_json
from governance.compliance.selectors import audit_log_head, organisation_profile
from governance.datasets.choices import LawfulBasis
from governance.datasets.models import Dataset
from governance.errors import ValidationFailed

PROCESSING_RECORD_SCHEMA = ("gdpr-art30-record-of-processing", "1.0")


def envelope(*, schema: tuple[str, str], actor, content: dict) -> dict:
    """Wrap export content with the provenance every export must carry (COMPLIANCE.md, 'Every export'),
    and a signed checkpoint of the audit log's head at that moment (so a later truncation shows)."""
    from governance.compliance.services import audit_log_checkpoint_write

    checkpoint = audit_log_checkpoint_write(actor, reason="export")
    return {
        "schema": {"name": schema[0], "version": schema[1]},
        "generated_at": timezone.now().isoformat(),
        "generated_by": getattr(actor, "username", str(actor)),
        "content_sha256": hashlib.sha256(canonical_json(content).encode()).hexdigest(),
        "audit_log_head": audit_log_head(),
        "audit_log_checkpoint": checkpoint,
        "content": content,
    }


def processing_record() -> dict:
    """GDPR Art. 30(1)(a)–(g), one activity per dataset that holds personal data."""
    profile = organisation_profile()
    activities = []
    datasets = (Dataset.objects.exclude(lawful_basis=LawfulBasis.NONE)
                .prefetch_related("versions__model_versions__model").order_by("name"))
    for ds in datasets:
        models = sorted({f"{mv.model.name} v{mv.version}" for v in ds.versions.all() for mv in v.model_versions.all()})
        activities.append({
            "name": ds.name,
            "description": ds.description,
            "lawful_basis": ds.get_lawful_basis_display(),
            "b_purposes": ds.purposes,
            "c_categories_of_data_subjects": ds.data_subject_categories,
            "c_categories_of_personal_data": ds.personal_data_categories,
            "c_special_categories": ds.special_categories,
            "d_recipients": ds.recipients,
            "e_third_country_transfers": ds.third_country_transfers,
            "e_transfer_safeguards": ds.transfer_safeguards,
            "f_erasure_time_limit_days": ds.retention_days,
            "source": ds.source,
            "dpia_reference": ds.dpia_reference,
            "models_trained": models,
        })
    return {
        "a_controller": {"name": profile.controller_name, "contact": profile.controller_contact,
                         "joint_controllers": profile.joint_controllers, "representative": profile.representative,
                         "dpo": {"name": profile.dpo_name, "contact": profile.dpo_contact}},
        "g_security_measures": profile.security_measures,
        "activities": activities,
    }


# ------------------------------------------------------------------------------------------- rendering
ACCESS_ANSWER_SCHEMA = ("gdpr-art15-access-answer", "1.0")
ERASURE_CERTIFICATE_SCHEMA = ("gdpr-art17-erasure-certificate", "1.0")
ANNEX_IV_SCHEMA = ("eu-ai-act-annex-iv-technical-documentation", "1.0")
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
# OWASP CSV injection: a cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A CSV cell as text, prefixed with ' when a spreadsheet would read it as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, tuple)):
        text = "; ".join(str(v) for v in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_bytes(document: dict, header: list[str], rows: list[list]) -> bytes:
    """Provenance lines first (one key and value per line), a blank line, then the table."""
    from governance.compliance.pdf import provenance_rows

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for key, value in provenance_rows(document):
        writer.writerow([csv_cell(f"# {key}"), csv_cell(value)])
    writer.writerow([])
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return buffer.getvalue().encode("utf-8")


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    content_type: str
    filename: str
    document: dict


def export_render(*, actor, schema: tuple[str, str], content: dict, fmt: str, filename: str, title: str = "",
                  pdf_blocks=None, csv_table=None) -> ExportFile:
    """Wrap `content` in the provenance envelope, render it as `fmt` and log the export (its content hash,
    the rendered file's hash and the log head it was stamped with)."""
    from django.db import transaction

    from governance.compliance.pdf import build_pdf
    from governance.compliance.services import audit_log_append

    if fmt not in FORMATS or (fmt == "pdf" and pdf_blocks is None) or (fmt == "csv" and csv_table is None):
        raise ValidationFailed(f"This export is not available as '{fmt}'.", field="as")
    with transaction.atomic():
        document = envelope(schema=schema, actor=actor, content=content)
        if fmt == "json":
            body = json.dumps(document, indent=2, ensure_ascii=False).encode()
        elif fmt == "csv":
            body = csv_bytes(document, *csv_table(content))
        else:
            body = build_pdf(title=title, document=document, blocks=pdf_blocks(content))
        audit_log_append(actor=actor, action="export.generated", object_type="export", object_id=schema[0],
                         payload={"schema": document["schema"], "format": fmt,
                                  "content_sha256": document["content_sha256"],
                                  "file_sha256": hashlib.sha256(body).hexdigest(),
                                  "audit_log_head": document["audit_log_head"]})
    return ExportFile(body=body, content_type=FORMATS[fmt], filename=f"{filename}.{fmt}", document=document)


# ---------------------------------------------------------------------------------- record of processing
PROCESSING_RECORD_COLUMNS = [
    ("name", "Activity (dataset)"), ("lawful_basis", "Lawful basis (Art. 6)"), ("b_purposes", "(b) Purposes"),
    ("c_categories_of_data_subjects", "(c) Categories of data subjects"),
    ("c_categories_of_personal_data", "(c) Categories of personal data"),
    ("c_special_categories", "(c) Special categories (Art. 9)"), ("d_recipients", "(d) Recipients"),
    ("e_third_country_transfers", "(e) Third-country transfers"), ("e_transfer_safeguards", "(e) Safeguards"),
    ("f_erasure_time_limit_days", "(f) Erasure time limit (days)"), ("source", "Source"),
    ("dpia_reference", "DPIA reference (Art. 35)"), ("models_trained", "Models trained on it"),
]


def _controller_rows(content: dict) -> list[tuple[str, str]]:
    c = content["a_controller"]
    return [("(a) Controller", f"{c['name']} — {c['contact']}"), ("(a) Joint controllers", c["joint_controllers"]),
            ("(a) Representative", c["representative"]), ("(a) Data protection officer",
                                                          f"{c['dpo']['name']} — {c['dpo']['contact']}")]


def processing_record_csv(content: dict) -> tuple[list[str], list[list]]:
    controller = content["a_controller"]
    header = ["controller", "dpo"] + [label for _, label in PROCESSING_RECORD_COLUMNS] + ["(g) Security measures"]
    rows = [[controller["name"], f"{controller['dpo']['name']} {controller['dpo']['contact']}".strip()]
            + [a[key] for key, _ in PROCESSING_RECORD_COLUMNS] + [content["g_security_measures"]]
            for a in content["activities"]]
    return header, rows


def processing_record_pdf(content: dict) -> list[tuple]:
    blocks: list[tuple] = [("p", "Record of processing activities kept under GDPR Art. 30(1), points (a) to (g)."),
                           ("h", "(a) Controller and data protection officer"), ("kv", _controller_rows(content))]
    for activity in content["activities"]:
        blocks += [("h", f"Processing activity: {activity['name']}"),
                   ("kv", [(label, activity[key]) for key, label in PROCESSING_RECORD_COLUMNS[1:]])]
    if not content["activities"]:
        blocks.append(("p", "No dataset declares personal data."))
    blocks += [("h", "(g) Technical and organisational security measures (Art. 32(1))"),
               ("p", content["g_security_measures"])]
    return blocks


# ------------------------------------------------------------------------------------ access (Art. 15)
RIGHTS = {
    "e_rectification": "You may ask us to correct inaccurate personal data (Art. 16).",
    "e_erasure": "You may ask us to erase your personal data (Art. 17).",
    "e_restriction": "You may ask us to restrict the processing (Art. 18).",
    "e_objection": "You may object to the processing (Art. 21).",
    "f_complaint": "You may lodge a complaint with a supervisory authority (Art. 77).",
    "portability": "Data you provided, processed on consent or contract, is given in a machine-readable form "
                   "(Art. 20); inferred data such as model scores is not part of it.",
}
PORTABLE_BASES = (LawfulBasis.CONSENT, LawfulBasis.CONTRACT)


def _explanation_summary(audit_results: dict, position: int | None) -> dict:
    """The logic behind a decision: the audit's most influential tokens overall, and the subject's own
    per-token attributions when their row was among those explained."""
    explanations = audit_results.get("explanations") or {}
    summary = {"top_tokens_overall": [
        {"token": t.get("token"), "mean_abs_attribution": t.get("mean_abs")}
        for t in (explanations.get("global") or {}).get("top_tokens", [])[:5]],
        "method": (explanations.get("global") or {}).get("method")}
    rows = explanations.get("row_indices") or []
    for entry in explanations.get("texts", []):
        index = entry.get("index")
        if position is not None and index is not None and index < len(rows) and rows[index] == position \
                and entry.get("text") != "[erased]":
            method = "shap" if "shap" in entry.get("attributions", {}) else next(iter(entry.get("attributions", {})), None)
            if method:
                pairs = sorted(zip([t["token"] for t in entry["tokens"]], entry["attributions"][method]),
                               key=lambda p: -abs(p[1] or 0))[:5]
                summary["your_decision"] = {"method": method, "probability": entry.get("value"),
                                            "tokens": [{"token": tok, "attribution": val} for tok, val in pairs]}
    return summary


def _position(prediction) -> int:
    """The prediction's row position in its audit (see subject_requests.audit_positions)."""
    from governance.audits.models import Prediction

    return Prediction.objects.filter(audit_id=prediction.audit_id, pk__lt=prediction.pk).count()


def access_answer(request) -> dict:
    """GDPR Art. 15(1)(a)–(h), 15(2), 15(3) and Art. 20 for one access request (what it finds now)."""
    from governance.audits.models import AuditResult
    from governance.compliance.models import SubjectRequest, SubjectRequestStatus
    from governance.compliance.subjects import subject_predictions, subject_records
    from governance.registry.models import ModelVersion

    subject_id = request.subject_id
    records = list(subject_records(subject_id=subject_id)) if subject_id else []
    predictions = list(subject_predictions(subject_id=subject_id)) if subject_id else []
    certificates = [{"certificate": r.reference, "fulfilled_at": r.closed_at.isoformat() if r.closed_at else None,
                     "certificate_sha256": r.certificate_sha256}
                    for r in SubjectRequest.objects.filter(subject_hash=request.subject_hash,
                                                           status=SubjectRequestStatus.FULFILLED).order_by("closed_at")]
    datasets, version_ids = {}, set()
    for record in records:
        datasets.setdefault(record.version.dataset.pk, record.version.dataset)
        version_ids.add(record.version_id)
    models = ModelVersion.objects.select_related("model", "dataset_version__dataset").filter(
        dataset_version_id__in=version_ids).order_by("model__name", "version")
    results: dict[int, dict] = {}
    for result in AuditResult.objects.filter(audit_id__in={p.audit_id for p in predictions},
                                             kind__in=["explanations", "metrics"]):
        results.setdefault(result.audit_id, {})[result.kind] = result.data

    def record_entry(r) -> dict:
        portable = r.version.dataset.lawful_basis in PORTABLE_BASES
        return {"dataset": r.version.dataset.name, "dataset_version": r.version_id, "version": r.version.version,
                "row_index": r.row_index,
                "provided_by_subject": {"text": r.text, "attributes": r.attributes},
                "not_provided_by_subject": {"label": r.label},
                "portable_art20": portable}

    decisions = []
    for p in predictions:
        mv = p.audit.model_version
        decisions.append({
            "audit": p.audit_id, "model": mv.model.name, "model_version": mv.pk, "version": mv.version,
            "dataset_version": p.audit.dataset_version_id, "predicted_label": p.predicted_label,
            "probabilities": dict(zip(mv.label_names, p.probabilities)),
            "logic": {"intended_purpose": mv.model.intended_purpose,
                      "architecture": {k: mv.training_config.get(k) for k in ("encoder", "freeze_encoder", "dp")},
                      "audit_accuracy": (results.get(p.audit_id, {}).get("metrics") or {}).get("accuracy"),
                      "explanation": _explanation_summary(results.get(p.audit_id, {}), _position(p))},
            "significance": ("A score used to support a human decision about you; see the model's intended "
                             "purpose. You may ask for human review and contest it (Art. 22(3))."),
        })
    return {
        "request": {"reference": request.reference, "received_on": request.received_on.isoformat(),
                    "due_on": request.effective_due_on.isoformat(),
                    "extension_reason": request.extension_reason or None},
        "controller": _controller(),
        "subject_id": subject_id or None,
        "confirmation_personal_data_processed": bool(records or predictions),
        "erasure_certificates": certificates,
        "processing": [{
            "dataset": d.name, "lawful_basis": d.get_lawful_basis_display(),
            "a_purposes": d.purposes, "b_categories_of_personal_data": d.personal_data_categories,
            "b_special_categories": d.special_categories, "c_recipients": d.recipients,
            "c_third_country_transfers": d.third_country_transfers,
            "art15_2_transfer_safeguards": d.transfer_safeguards,
            "d_retention_days": d.retention_days, "g_source": d.source or "Collected from you",
        } for d in sorted(datasets.values(), key=lambda d: d.name)],
        "records": [record_entry(r) for r in records],
        "models_trained_on_your_data": [{"model": mv.model.name, "model_version": mv.pk, "version": mv.version,
                                         "status": mv.status, "dataset_version": mv.dataset_version_id,
                                         "trained_at": mv.trained_at.isoformat() if mv.trained_at else None}
                                        for mv in models],
        "h_automated_decisions": decisions,
        "rights": RIGHTS,
        "art20_portability": {"applies": any(d.lawful_basis in PORTABLE_BASES for d in datasets.values()),
                              "provided_data": [{"dataset": e["dataset"], "row_index": e["row_index"],
                                                 **e["provided_by_subject"]}
                                                for e in map(record_entry, records) if e["portable_art20"]]},
        "art15_4_redactions": [],
    }


def _controller() -> dict:
    profile = organisation_profile()
    return {"name": profile.controller_name, "contact": profile.controller_contact,
            "dpo": {"name": profile.dpo_name, "contact": profile.dpo_contact}}


def access_answer_pdf(content: dict) -> list[tuple]:
    c = content["controller"]
    blocks: list[tuple] = [
        ("p", f"From {c['name'] or 'the controller'} ({c['contact'] or 'contact not set'}); data protection "
              f"officer {c['dpo']['name'] or '—'} ({c['dpo']['contact'] or '—'})."),
        ("p", f"Your request {content['request']['reference']}, received on {content['request']['received_on']}, "
              f"answered under Article 15 of the GDPR (and Article 20 for the data you provided)."),
    ]
    if not content["confirmation_personal_data_processed"]:
        blocks.append(("p", "We hold no personal data about you."))
        if content["erasure_certificates"]:
            blocks.append(("p", "Your personal data was erased; certificate(s): "
                                + ", ".join(x["certificate"] for x in content["erasure_certificates"]) + "."))
        blocks += [("h", "Your rights"), ("list", list(content["rights"].values()))]
        return blocks
    blocks.append(("h", "Why and how we process your data"))
    for p in content["processing"]:
        blocks.append(("kv", [("Processing", p["dataset"]), ("Lawful basis", p["lawful_basis"]),
                              ("(a) Purposes", p["a_purposes"]),
                              ("(b) Categories of data", p["b_categories_of_personal_data"]),
                              ("(c) Recipients", p["c_recipients"]),
                              ("(c) Third countries", p["c_third_country_transfers"]),
                              ("Safeguards (Art. 15(2))", p["art15_2_transfer_safeguards"]),
                              ("(d) Retention (days)", p["d_retention_days"]), ("(g) Source", p["g_source"])]))
    blocks += [("h", "The data we hold about you"),
               ("table", ["Dataset", "Version", "Row", "Text (provided by you)", "Attributes", "Label"],
                [[r["dataset"], r["version"], r["row_index"], r["provided_by_subject"]["text"],
                  r["provided_by_subject"]["attributes"], r["not_provided_by_subject"]["label"]]
                 for r in content["records"]], [2, 1, 1, 6, 2, 1]),
               ("h", "Models trained on your data"),
               ("table", ["Model", "Version", "Status", "Trained"],
                [[m["model"], m["version"], m["status"], m["trained_at"]] for m in content["models_trained_on_your_data"]]),
               ("h", "(h) Automated decisions about you and the logic involved")]
    for d in content["h_automated_decisions"]:
        explanation = d["logic"]["explanation"]
        mine = explanation.get("your_decision")
        blocks.append(("kv", [("Model", f"{d['model']} v{d['version']} (audit #{d['audit']})"),
                              ("Decision", d["predicted_label"]), ("Probabilities", d["probabilities"]),
                              ("Intended purpose", d["logic"]["intended_purpose"]),
                              ("Most influential words overall",
                               [t["token"] for t in explanation["top_tokens_overall"]]),
                              ("Words that weighed most in your case",
                               [f"{t['token']} ({t['attribution']:+.3f})" for t in mine["tokens"]] if mine else None),
                              ("Significance", d["significance"])]))
    if not content["h_automated_decisions"]:
        blocks.append(("p", "No automated decision about you is recorded."))
    blocks += [("h", "Your rights"), ("list", list(content["rights"].values()))]
    return blocks


# ------------------------------------------------------------------------------- erasure certificate
def erasure_certificate_pdf(content: dict) -> list[tuple]:
    return [
        ("p", content["statement"]),
        ("kv", [("Certificate", content["certificate"]), ("Subject (salted hash)", content["subject"]["hash"]),
                ("Hash", f"{content['subject']['algorithm']}, salt {content['subject']['salt_fingerprint']}"),
                ("Received on", content["received_on"]), ("Fulfilled at", content["fulfilled_at"]),
                ("Fulfilled by", content["fulfilled_by"]),
                ("Ground", f"{content['ground']['code']}: {content['ground']['text']}"),
                ("Records removed", content["records_removed_total"]),
                ("Recipients to notify (Art. 19)", content["art19_recipients_to_notify"])]),
        ("h", "Records removed per dataset version"),
        ("table", ["Dataset", "Version", "Records"],
         [[r["dataset"], r["version"], r["records"]] for r in content["records_removed"]]),
        ("h", "Audit predictions removed"),
        ("table", ["Audit", "Predictions"], [[p["audit"], p["predictions"]] for p in content["predictions_removed"]]),
        ("h", "Model versions flagged for a decision"),
        ("table", ["Model", "Version", "Records removed"],
         [[m["model"], m["version"], m["records_removed"]] for m in content["model_versions_flagged"]]),
    ]


# ---------------------------------------------------------------------------------- AI Act Annex IV
DOCUMENTATION_FIELDS = {
    # field: (Annex IV section, label)
    "provider": ("1", "Provider"),
    "interaction_with_other_systems": ("1", "Interaction with other hardware, software or AI systems"),
    "forms_of_placing_on_market": ("1", "Forms of placing on the market"),
    "hardware_requirements": ("1", "Hardware it is intended to run on"),
    "user_interface": ("1", "User interface"),
    "instructions_for_use": ("1", "Instructions for use"),
    "design_rationale": ("2", "Design specifications, rationale, assumptions and trade-offs"),
    "human_oversight_measures": ("2", "Human-oversight measures (Art. 14)"),
    "predetermined_changes": ("2", "Pre-determined changes"),
    "cybersecurity_measures": ("2", "Cybersecurity measures"),
    "capabilities_and_limitations": ("3", "Capabilities and limitations"),
    "foreseeable_risks": ("3", "Foreseeable unintended outcomes and risks"),
    "input_data_specifications": ("3", "Input-data specifications"),
    "metrics_rationale": ("4", "Why the chosen performance metrics are appropriate"),
    "risk_management_system": ("5", "Risk management system (Art. 9)"),
    "harmonised_standards": ("7", "Harmonised standards applied, or other solutions"),
    "declaration_of_conformity": ("8", "EU declaration of conformity (Art. 47)"),
    "post_market_monitoring_plan": ("9", "Post-market monitoring system and plan (Art. 72(3))"),
}
SECTION_TITLES = {
    "1": "General description of the AI system", "2": "Development: methods, data, validation",
    "3": "Monitoring, functioning and control", "4": "Appropriateness of the performance metrics",
    "5": "Risk management system", "6": "Relevant changes through the lifecycle",
    "7": "Harmonised standards", "8": "EU declaration of conformity", "9": "Post-market monitoring",
}


def _accuracy_by_group(fairness: dict) -> list[dict]:
    rows = []
    for grouping, body in (fairness.get("groupings") or {}).items():
        for group, g in body.get("groups", {}).items():
            metrics = g.get("metrics", {})
            rows.append({"grouping": grouping, "group": group, "count": g.get("count"),
                         "accuracy": (metrics.get("accuracy") or {}).get("value"),
                         "selection_rate": (metrics.get("selection_rate") or {}).get("value"),
                         "true_positive_rate": (metrics.get("true_positive_rate") or {}).get("value"),
                         "too_small": g.get("too_small")})
    return rows


def annex_iv(model_version) -> dict:
    """The nine Annex IV sections assembled from the registry, audits, approvals and the documentation
    people wrote; `missing` lists what is not recorded yet."""
    from governance.approvals.models import DeploymentRequest
    from governance.audits.models import AuditResult, AuditStatus
    from governance.compliance.models import ErasureImpact, ModelDocumentation
    from governance.datasets.models import Datasheet

    mv = model_version
    model = mv.model
    doc = ModelDocumentation.objects.filter(model=model).first() or ModelDocumentation(model=model)
    written = {name: getattr(doc, name) for name in DOCUMENTATION_FIELDS}
    missing = []
    if not model.intended_purpose.strip():
        missing.append("1. Intended purpose")
    for name, (section, label) in DOCUMENTATION_FIELDS.items():
        if not written[name].strip():
            missing.append(f"{section}. {label}")

    lineage, cursor = [], mv.parent
    while cursor is not None and len(lineage) < 50:
        lineage.append({"model_version": cursor.pk, "version": cursor.version, "note": cursor.lineage_note})
        cursor = cursor.parent
    data = mv.dataset_version
    sheet = Datasheet.objects.filter(version=data).first() if data else None
    audits = list(mv.audits.filter(status=AuditStatus.COMPLETE).select_related("dataset_version__dataset")
                  .order_by("created_at"))
    results = {}
    for r in AuditResult.objects.filter(audit__in=audits, kind__in=["metrics", "fairness", "compute"]):
        results.setdefault(r.audit_id, {})[r.kind] = r.data
    validation = [{"audit": a.pk, "dataset_version": a.dataset_version_id, "dataset": str(a.dataset_version),
                   "result_hash": a.result_hash, "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                   "metrics": {k: (results.get(a.pk, {}).get("metrics") or {}).get(k)
                               for k in ("n", "accuracy", "f1_macro", "majority_baseline_accuracy")},
                   "by_group": _accuracy_by_group(results.get(a.pk, {}).get("fairness") or {}),
                   "disparities": {g: {k: (v or {}).get("value") for k, v in body.get("disparities", {}).items()}
                                   for g, body in ((results.get(a.pk, {}).get("fairness") or {})
                                                   .get("groupings") or {}).items()},
                   "compute": results.get(a.pk, {}).get("compute")} for a in audits]
    if not audits:
        missing.append("2. Validation and testing: no completed audit of this version")
    if mv.status != "ready":
        missing.append("2. Computational resources and metrics: the version is not trained")
    if data is not None and sheet is None:
        missing.append("2. Datasheet of the training data")
    requests = list(DeploymentRequest.objects.filter(model_version=mv)
                    .prefetch_related("approvals", "waivers__granted_by").order_by("created_at"))
    approvals = [{"request": r.pk, "environment": r.environment, "status": r.status, "audit": r.audit_id,
                  "artifact_digest": r.artifact_digest, "audit_result_hash": r.audit_result_hash,
                  "gates": [{"gate": g["gate"], "passed": g["passed"], "detail": g["detail"]}
                            for g in r.gate_results],
                  "waivers": [{"gate": w.gate, "reason": w.reason, "expires_at": w.expires_at.isoformat(),
                               "granted_by": w.granted_by.username} for w in r.waivers.all()],
                  "decisions": [{"reviewer": a.reviewer.username, "decision": a.decision, "reason": a.reason,
                                 "voided": a.voided, "at": a.created_at.isoformat()} for a in r.approvals.all()]}
                 for r in requests]
    deployments = [{"environment": d.environment, "started_at": d.started_at.isoformat(),
                    "ended_at": d.ended_at.isoformat() if d.ended_at else None, "ended_reason": d.ended_reason}
                   for d in mv.deployments.order_by("started_at")]
    erasures = [{"request": i.request.reference, "records_removed": i.records_removed, "decision": i.decision,
                 "justification": i.justification,
                 "retrained_model_version": i.retrained_model_version_id}
                for i in ErasureImpact.objects.filter(model_version=mv).select_related("request")]
    cfg = mv.training_config
    sections = {
        "1": {"intended_purpose": model.intended_purpose, "provider": written["provider"],
              "model": model.name, "version": mv.version, "model_version": mv.pk,
              "relation_to_earlier_versions": {"parent": mv.parent_id, "lineage_note": mv.lineage_note,
                                               "ancestors": lineage},
              "artifact_digest": mv.artifact_digest,
              "interaction_with_other_systems": written["interaction_with_other_systems"],
              "software": {"framework": "PyTorch (models_core)", "compute": {k: mv.compute.get(k) for k in mv.compute
                                                                             if "version" in k or k == "device"}},
              "forms_of_placing_on_market": written["forms_of_placing_on_market"],
              "hardware_requirements": written["hardware_requirements"], "user_interface": written["user_interface"],
              "instructions_for_use": written["instructions_for_use"]},
        "2": {"methods": {"training_config": cfg,
                          "third_party_pretrained_components": (
                              ["MiniLM-L6 sentence encoder (pretrained)"] if cfg.get("encoder") == "pretrained"
                              else [f"{cfg['pretrained_encoder']['name']} (registered pretrained encoder, sha256 "
                                    f"{cfg['pretrained_encoder']['digest']})"] if cfg.get("pretrained_encoder")
                              else []),
                          "differential_privacy": mv.dp},
              "design_rationale": written["design_rationale"],
              "architecture_and_compute_used": {"encoder": cfg.get("encoder"),
                                                "freeze_encoder": cfg.get("freeze_encoder"),
                                                "compute": mv.compute, "training_history_epochs": len(mv.history or [])},
              "training_data": None if data is None else {
                  "dataset": data.dataset.name, "dataset_version": data.pk, "version": data.version,
                  "sha256": data.sha256, "rows": data.row_count, "label_names": data.label_names,
                  "sensitive_attributes": data.sensitive_attributes, "source": data.dataset.source,
                  "lawful_basis": data.dataset.lawful_basis, "purposes": data.dataset.purposes,
                  "datasheet_sha256": sheet.sha256 if sheet else None,
                  "datasheet_summary": {k: sheet.data.get(k) for k in ("n_rows", "quality")} if sheet else None},
              "human_oversight_assessment": written["human_oversight_measures"],
              "predetermined_changes": written["predetermined_changes"],
              "validation_metrics": mv.metrics, "validation_and_testing": validation,
              "cybersecurity_measures": written["cybersecurity_measures"]},
        "3": {"capabilities_and_limitations": written["capabilities_and_limitations"],
              "accuracy_for_groups": [{"audit": v["audit"], "by_group": v["by_group"]} for v in validation],
              "foreseeable_risks": written["foreseeable_risks"],
              "human_oversight_measures": written["human_oversight_measures"],
              "input_data_specifications": written["input_data_specifications"]},
        "4": {"metrics_rationale": written["metrics_rationale"]},
        "5": {"risk_management_system": written["risk_management_system"]},
        "6": {"lineage": lineage, "approvals": approvals, "deployments": deployments, "erasures": erasures},
        "7": {"harmonised_standards": written["harmonised_standards"]},
        "8": {"declaration_of_conformity": written["declaration_of_conformity"]},
        "9": {"post_market_monitoring_plan": written["post_market_monitoring_plan"],
              "deployments": deployments},
    }
    return {"model_version": mv.pk, "model": model.name, "version": mv.version,
            "sections": {f"{k}. {SECTION_TITLES[k]}": v for k, v in sections.items()},
            "missing": missing, "retention": "Keep for ten years after placing on the market (Art. 18)."}


def annex_iv_pdf(content: dict) -> list[tuple]:
    blocks: list[tuple] = [("p", "Technical documentation under Article 11 and Annex IV of Regulation (EU) "
                                 "2024/1689, assembled from the model registry, audits, approvals and deployments.")]
    if content["missing"]:
        blocks += [("h", "Still missing"), ("list", content["missing"])]
    for title, body in content["sections"].items():
        blocks.append(("h", title))
        rows = []
        for key, value in body.items():
            if key in ("validation_and_testing", "accuracy_for_groups"):
                continue
            rows.append((key.replace("_", " "), value if not isinstance(value, (dict, list))
                         else json.dumps(value, ensure_ascii=False, default=str)[:1500]))
        blocks.append(("kv", rows))
        for audit in body.get("validation_and_testing", []):
            blocks += [("p", f"Audit #{audit['audit']} on {audit['dataset']} — result hash {audit['result_hash']}; "
                             f"accuracy {audit['metrics'].get('accuracy')}"),
                       ("table", ["Grouping", "Group", "n", "Accuracy", "Selection rate", "TPR"],
                        [[g["grouping"], g["group"], g["count"], g["accuracy"], g["selection_rate"],
                          g["true_positive_rate"]] for g in audit["by_group"][:40]])]
    return blocks


# ------------------------------------------------------------------------------- file exports, by name
def processing_record_file(*, actor, fmt: str) -> ExportFile:
    return export_render(actor=actor, schema=PROCESSING_RECORD_SCHEMA, content=processing_record(), fmt=fmt,
                         filename="record-of-processing", title="Record of processing activities (GDPR Art. 30)",
                         pdf_blocks=processing_record_pdf, csv_table=processing_record_csv)


def annex_iv_file(*, actor, model_version, fmt: str) -> ExportFile:
    return export_render(actor=actor, schema=ANNEX_IV_SCHEMA, content=annex_iv(model_version), fmt=fmt,
                         filename=f"annex-iv-{model_version.model.name}-v{model_version.version}",
                         title=f"EU AI Act Annex IV technical documentation: {model_version}",
                         pdf_blocks=annex_iv_pdf)

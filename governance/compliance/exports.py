"""The GDPR exports' content and layout: the record of processing (Art. 30), the answer to an access request
(Art. 15, 20) and the erasure certificate (Art. 17). Each is rendered and logged by the one logged export,
governance.auditlog.exports.export_render (envelope: schema, time, author, content SHA-256, log head)."""

from __future__ import annotations

from governance.auditlog.exports import ExportFile, export_render
from governance.compliance.selectors import organisation_profile
from governance.compliance.served_decisions import served_decisions_pdf
from governance.datasets.choices import LawfulBasis
from governance.datasets.models import Dataset

PROCESSING_RECORD_SCHEMA = ("gdpr-art30-record-of-processing", "1.0")


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


ACCESS_ANSWER_SCHEMA = ("gdpr-art15-access-answer", "1.0")
ERASURE_CERTIFICATE_SCHEMA = ("gdpr-art17-erasure-certificate", "1.0")


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
    """The prediction's row position in its audit (see audits.erasure.audit_positions)."""
    from governance.audits.models import Prediction

    return Prediction.objects.filter(audit_id=prediction.audit_id, pk__lt=prediction.pk).count()


def access_answer(request) -> dict:
    """GDPR Art. 15(1)(a)–(h), 15(2), 15(3) and Art. 20 for one access request (what it finds now)."""
    from governance.audits.models import AuditResult
    from governance.compliance.models import SubjectRequest, SubjectRequestStatus
    from governance.compliance.identifiers import records_traces
    from governance.compliance.served_decisions import served_decisions_answer
    from governance.compliance.subjects import subject_predictions, subject_records
    from governance.compliance.selectors import all_mentions
    from governance.registry.models import ModelVersion

    subject_id = request.subject_id
    records = list(subject_records(subject_id=subject_id)) if subject_id else []
    # Art. 15 covers the subject's data wherever it is, not only under their id: other people's records
    # that name them (their identifiers, read from their own records) are listed, masked but for the match.
    traces = records_traces(subject_id=subject_id, records=records) if subject_id else None
    mentions = all_mentions(traces=traces, subject_id=subject_id) if traces else []
    predictions = list(subject_predictions(subject_id=subject_id)) if subject_id else []
    served = served_decisions_answer(subject_id=subject_id) if subject_id else []
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
        "confirmation_personal_data_processed": bool(records or predictions or mentions or served),
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
        "identifiers_searched": list(traces.identifiers) if traces else [],
        "mentions_in_other_records": mentions,
        "models_trained_on_your_data": [{"model": mv.model.name, "model_version": mv.pk, "version": mv.version,
                                         "status": mv.status, "dataset_version": mv.dataset_version_id,
                                         "trained_at": mv.trained_at.isoformat() if mv.trained_at else None}
                                        for mv in models],
        "h_automated_decisions": decisions,
        "h_automated_decisions_in_service": served,
        "rights": RIGHTS,
        "art20_portability": {"applies": any(d.lawful_basis in PORTABLE_BASES for d in datasets.values()),
                              "provided_data": [{"dataset": e["dataset"], "row_index": e["row_index"],
                                                 **e["provided_by_subject"]}
                                                for e in map(record_entry, records) if e["portable_art20"]]},
        "art15_4_redactions": (["Records of other people that mention you are shown as a snippet around the "
                                "mention, the rest of their text masked, to protect their rights (Art. 15(4))."]
                               if mentions else []),
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
               ("h", "Other records that mention you"),
               ("table", ["Where", "Record", "Column", "Snippet (others' words masked)"],
                [[f"{m['dataset']} v{m['version']}" if m.get("dataset") else m["store"],
                  m.get("row_index", m["record"]), m["column"], m["snippet"]]
                 for m in content.get("mentions_in_other_records", [])], [3, 1, 1, 6]),
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
    if content.get("h_automated_decisions_in_service"):
        blocks += served_decisions_pdf(content["h_automated_decisions_in_service"])
    if not content["h_automated_decisions"] and not content.get("h_automated_decisions_in_service"):
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
        ("h", "Every store cleaned"),
        ("table", ["Store", "Action", "Count"],
         [[st["store"], st["action"], st["count"]] for st in content.get("stores", [])], [6, 2, 1]),
    ]


# ------------------------------------------------------------------------------- file exports, by name
def processing_record_file(*, actor, fmt: str) -> ExportFile:
    return export_render(actor=actor, schema=PROCESSING_RECORD_SCHEMA, content=processing_record(), fmt=fmt,
                         filename="record-of-processing", title="Record of processing activities (GDPR Art. 30)",
                         pdf_blocks=processing_record_pdf, csv_table=processing_record_csv)

"""EU AI Act Annex IV technical documentation: the part people write for a model (what the registry cannot
know), its assembly with the registry, audits, approvals and deployments, and its logged export."""

from __future__ import annotations

import json

from django.db import transaction

from governance.accounts.predicates import object_require_role
from governance.approvals.models import DeploymentRequest
from governance.auditlog.exports import ExportFile, export_render
from governance.auditlog.services import audit_log_append
from governance.audits.models import AuditResult, AuditStatus
from governance.audits.robustness import suites_in_order
from governance.compliance.models import ErasureImpact, ModelDocumentation
from governance.datasets.models import Datasheet
from governance.errors import ValidationFailed
from governance.registry.models import Model
from governance.roles import COMPLIANCE_OFFICER

EDITABLE = tuple(f.name for f in ModelDocumentation._meta.fields if f.name not in ("id", "model", "updated_at"))
MAX_LENGTH = 20_000
ANNEX_IV_SCHEMA = ("eu-ai-act-annex-iv-technical-documentation", "1.0")


@transaction.atomic
def model_documentation_update(*, actor, model: Model, intended_purpose: str | None = None,
                               **fields) -> ModelDocumentation:
    """Edit the model's Annex IV documentation: a compliance officer of its project (or organisation-wide)."""
    if actor is not None:
        object_require_role(actor, model, COMPLIANCE_OFFICER, what="model")
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ValidationFailed("Must be text.", field=name)
        if len(value) > MAX_LENGTH:
            raise ValidationFailed(f"At most {MAX_LENGTH} characters.", field=name)
    doc, _ = ModelDocumentation.objects.select_for_update().get_or_create(model=model)
    changed = sorted(name for name, value in fields.items() if getattr(doc, name) != value.strip())
    for name in changed:
        setattr(doc, name, fields[name].strip())
    doc.save()
    if intended_purpose is not None and intended_purpose.strip() != model.intended_purpose:
        Model.objects.filter(pk=model.pk).update(intended_purpose=intended_purpose.strip())
        model.intended_purpose = intended_purpose.strip()
        changed.append("intended_purpose")
    audit_log_append(actor=actor, action="model_documentation.updated", obj=model, payload={"fields": changed})
    return doc


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


def _memorisation_testing(audits, results: dict) -> list[dict]:
    """Section 2 for generative versions: each memorisation audit's perplexity, canary exposure and
    extraction of personal data (counts by kind), and prompt-swap bias (issue 23)."""
    out = []
    for a in audits:
        r = results.get(a.pk, {})
        if (a.config or {}).get("kind") != "memorisation":
            continue
        canaries, extraction, swap = r.get("canaries") or {}, r.get("extraction") or {}, r.get("prompt_swap")
        out.append({"audit": a.pk, "result_hash": a.result_hash,
                    "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                    "holdout_perplexity": (r.get("perplexity") or {}).get("holdout"),
                    "canary_exposure": ({"method": canaries.get("method"), "by_repeats": canaries.get("by_repeats"),
                                         "max_exposure": canaries.get("max_exposure"),
                                         "max_possible": canaries.get("max_exposure_possible")}
                                        if canaries.get("available") else canaries.get("reason")),
                    "extraction": {k: extraction.get(k) for k in ("method", "findings_probed", "findings_extracted",
                                                                  "records_extracted", "by_kind")},
                    "prompt_swap": None if not swap else {k: swap.get(k) for k in (
                        "groups", "mean_difference", "interval", "confidence", "n_templates", "n_samples")}})
    return out


def annex_iv(model_version) -> dict:
    """The nine Annex IV sections assembled from the registry, audits, approvals and the documentation
    people wrote; `missing` lists what is not recorded yet."""
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
    for r in AuditResult.objects.filter(audit__in=audits, kind__in=["metrics", "fairness", "compute", "robustness",
                                                                     "perplexity", "canaries", "extraction",
                                                                     "prompt_swap"]):
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
    robustness = [{"audit": a.pk, "result_hash": a.result_hash, **robustness_summary(results[a.pk]["robustness"])}
                  for a in audits if isinstance(results.get(a.pk, {}).get("robustness"), dict)]
    if not audits:
        missing.append("2. Validation and testing: no completed audit of this version")
    generative = _memorisation_testing(audits, results) if mv.kind == "decoder" else None
    if generative == []:
        missing.append("2. Memorisation and personal-data leakage: no completed memorisation audit")
    if not robustness and mv.kind != "decoder":  # robustness suites test classifiers
        missing.append("2. Robustness testing (Art. 15): no completed audit of this version ran the robustness tests")
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
                               "granted_by": w.granted_by.username, "audit_result_hash": w.audit_result_hash,
                               "measured": w.measured,
                               "voided_at": w.voided_at.isoformat() if w.voided_at else None,
                               "voided_reason": w.voided_reason} for w in r.waivers.all()],
                  "decisions": [{"reviewer": a.reviewer.username, "decision": a.decision, "reason": a.reason,
                                 "voided": a.voided, "at": a.created_at.isoformat()} for a in r.approvals.all()]}
                 for r in requests]
    deployments = [{"environment": d.environment, "started_at": d.started_at.isoformat(),
                    "ended_at": d.ended_at.isoformat() if d.ended_at else None, "ended_reason": d.ended_reason,
                    "suspended_at": d.suspended_at.isoformat() if d.suspended_at else None,
                    "suspended_reason": d.suspended_reason}
                   for d in mv.deployments.order_by("started_at")]
    erasures = [{"request": i.request.reference, "records_removed": i.records_removed, "decision": i.decision,
                 "justification": i.justification, "extraction": i.extraction,
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
                              else [f"{cfg['external']['source_file']} (external "
                                    f"{cfg['external']['architecture'].get('architecture', 'classifier')} fine-tuned "
                                    f"elsewhere, uploaded by {cfg['external']['uploaded_by']}, folder sha256 "
                                    f"{cfg['external']['folder_sha256']})"] if cfg.get("external")
                              else []),
                          "differential_privacy": (
                              {**mv.dp, "claim_void": "recorded before per-run noise: the noise was replayable "
                                                      "from the stored seed, so no (ε, δ) guarantee holds"}
                              if mv.dp and not mv.dp.get("record_format") else mv.dp)},
              "design_rationale": written["design_rationale"],
              "architecture_and_compute_used": {"encoder": cfg.get("encoder"),
                                                "freeze_encoder": cfg.get("freeze_encoder"),
                                                "compute": mv.compute, "training_history_epochs": len(mv.history or [])},
              "training_data": ({"external": True, "declared": cfg["external"]["declared_training_data"],
                                 "declared_by": cfg["external"]["uploaded_by"]} if data is None and cfg.get("external")
                                else None) if data is None else {
                  "dataset": data.dataset.name, "dataset_version": data.pk, "version": data.version,
                  "sha256": data.sha256, "rows": data.row_count, "label_names": data.label_names,
                  "sensitive_attributes": data.sensitive_attributes, "source": data.dataset.source,
                  "lawful_basis": data.dataset.lawful_basis, "purposes": data.dataset.purposes,
                  "datasheet_sha256": sheet.sha256 if sheet else None,
                  "datasheet_summary": {k: sheet.data.get(k) for k in ("n_rows", "quality")} if sheet else None},
              "human_oversight_assessment": written["human_oversight_measures"],
              "predetermined_changes": written["predetermined_changes"],
              "validation_metrics": mv.metrics, "validation_and_testing": validation,
              **({"model_kind": "generative (causal decoder, byte-level, trained from scratch)",
                  "memorisation_testing": generative} if generative is not None else {}),
              "robustness_testing": robustness,
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
            if key in ("validation_and_testing", "accuracy_for_groups", "robustness_testing"):
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
        for r in body.get("robustness_testing", []):
            blocks += [("p", f"Robustness (Art. 15), audit #{r['audit']} — {r['n_texts']} texts; {r['method']}"),
                       ("table", ["Test", "Rate", "Interval", "Texts"],
                        [[row["test"], row["value"], row["ci"], row["n"]] for row in r["rows"]])]
    return blocks


def robustness_summary(result: dict) -> dict:
    """The Annex IV view of a stored robustness result: one row per suite (flip rate), expectation (failure
    rate) and the attack (success rate), each with its interval; no example text (they quote data subjects)."""
    rows = [{"test": f"invariance: {s.get('label', name)}", "value": (s.get("flip_rate") or {}).get("value"),
             "ci": (s.get("flip_rate") or {}).get("ci"), "n": s.get("n_changed")}
            for name, s in suites_in_order(result)]
    rows += [{"test": f"directional: {e['phrase']} ({e['direction']})",
              "value": (e.get("failure_rate") or {}).get("value"), "ci": (e.get("failure_rate") or {}).get("ci"),
              "n": e.get("n_changed")} for e in result.get("directional") or []]
    attack = result.get("adversarial") or {}
    if "attack_success_rate" in attack:
        rows.append({"test": "adversarial: attack success rate", "value": attack["attack_success_rate"]["value"],
                     "ci": attack["attack_success_rate"]["ci"], "n": attack["n_attacked"],
                     "mean_words_changed": attack.get("mean_words_changed"),
                     "queries_per_success": attack.get("queries_per_success")})
    config = result.get("config") or {}
    return {"n_texts": result.get("n_texts"), "rows": rows, "summary": result.get("summary"),
            "method": (f"CheckList-style invariance suites and directional expectations, greedy word substitution "
                       f"(TextFooler-style); {int(100 * config.get('confidence', 0.95))}% bootstrap intervals over "
                       f"texts, seed {config.get('seed')}")}


def annex_iv_file(*, actor, model_version, fmt: str) -> ExportFile:
    return export_render(actor=actor, schema=ANNEX_IV_SCHEMA, content=annex_iv(model_version), fmt=fmt,
                         filename=f"annex-iv-{model_version.model.name}-v{model_version.version}",
                         title=f"EU AI Act Annex IV technical documentation: {model_version}",
                         pdf_blocks=annex_iv_pdf)

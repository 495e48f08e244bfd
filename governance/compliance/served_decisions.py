"""The served decisions in an access answer (GDPR Art. 15(1)(h), Art. 22): every decision the serving
endpoint logged about the subject, each with its explanation computed now (governance/serving/explanations.py)
and, per model version, the summary of its logic from the Annex IV documentation."""

from __future__ import annotations

from governance.compliance.documentation import annex_iv
from governance.registry.models import ModelVersion
from governance.serving.decision_queue import decisions_flush_all
from governance.serving.explanations import decisions_explain
from governance.serving.selectors import outcomes_of, subject_decisions

SIGNIFICANCE = ("An automated decision taken by the model in service. You may obtain human intervention, express "
                "your point of view and contest the decision (Art. 22(3)).")


def logic_summary(model_version: ModelVersion) -> dict:
    """The meaningful information about the logic involved, from the version's Annex IV documentation."""
    sections = list(annex_iv(model_version)["sections"].values())
    general, development, monitoring = sections[0], sections[1], sections[2]
    validation = development.get("validation_and_testing") or []
    data = development.get("training_data") or {}
    return {"intended_purpose": general.get("intended_purpose"),
            "how_it_decides": ("A Transformer text classifier reads the text and gives a probability to each "
                               "outcome; the most probable outcome is the decision"
                               + (" unless group thresholds apply" if model_version.parent_id else "") + "."),
            "design_rationale": development.get("design_rationale"),
            "architecture": {k: (development.get("architecture_and_compute_used") or {}).get(k)
                             for k in ("encoder", "freeze_encoder")},
            "trained_on": {k: data.get(k) for k in ("dataset", "rows", "label_names", "sensitive_attributes")},
            "measured_accuracy": [v["metrics"].get("accuracy") for v in validation],
            "accuracy_for_groups": monitoring.get("accuracy_for_groups"),
            "capabilities_and_limitations": monitoring.get("capabilities_and_limitations"),
            "human_oversight_measures": monitoring.get("human_oversight_measures")}


def served_decisions_answer(*, subject_id: str) -> list[dict]:
    """Every decision about the subject up to now: the write-ahead queue is flushed first, so a decision
    answered a moment ago is listed too."""
    decisions_flush_all()
    decisions = subject_decisions(subject_id=subject_id)
    if not decisions:
        return []
    explanations = decisions_explain(decisions)
    outcomes = outcomes_of(d.pk for d in decisions)
    versions = {v.pk: v for v in ModelVersion.objects.select_related("model").filter(
        pk__in={d.model_version_id for d in decisions})}
    logic = {pk: logic_summary(v) for pk, v in versions.items()}
    answer = []
    for d in decisions:
        version = versions.get(d.model_version_id)
        answer.append({
            "decision_id": str(d.pk), "decided_at": d.decided_at.isoformat(), "environment": d.environment,
            "model": version.model.name if version else None, "version": version.version if version else None,
            "model_version": d.model_version_id, "decision": d.predicted_label, "probabilities": d.probabilities,
            "input_text": d.text, "input_sha256": d.input_sha256, "attributes_given": d.attributes,
            "outcome_recorded": outcomes[d.pk].label if d.pk in outcomes else None,
            "explanation": explanations.get(d.pk), "logic": logic.get(d.model_version_id),
            "significance": SIGNIFICANCE})
    return answer


def served_decisions_pdf(decisions: list[dict]) -> list[tuple]:
    blocks: list[tuple] = [("h", "Decisions made about you by our models in service")]
    for d in decisions:
        explanation = d["explanation"] or {}
        words = ([f"{t['token']} ({t['attribution']:+.3f})" for t in explanation.get("tokens", [])]
                 if explanation.get("available") else explanation.get("why"))
        blocks.append(("kv", [("Decision", f"{d['decision']} on {d['decided_at']} ({d['environment']})"),
                              ("Model", f"{d['model']} v{d['version']}"), ("Probabilities", d["probabilities"]),
                              ("Words that weighed most", words),
                              ("Intended purpose", (d["logic"] or {}).get("intended_purpose")),
                              ("How it decides", (d["logic"] or {}).get("how_it_decides")),
                              ("Significance", d["significance"])]))
    return blocks

"""Per-decision explanations computed on request (an access request's answer, GDPR Art. 15(1)(h)): the
decision's own text re-scored by the very version that decided (artifact digest checked) and explained with
SHAP over its tokens (models_core.explain), in units of the decided class's probability. Nothing is stored.
A decision whose text the serving policy did not keep cannot be explained this way; the answer says so.
"""

from __future__ import annotations

from collections import defaultdict

from governance.registry.models import ModelVersion
from governance.serving.models import Decision
from governance.serving.runtime import ServingRefused, load_model
from models_core.errors import CoreError
from models_core.explain.sample import explain_sample

SHAP_MAX_EVALS = 400
TOP_TOKENS = 8


def decisions_explain(decisions: list[Decision]) -> dict:
    """{decision id: explanation} for each decision: its tokens' SHAP values for the decided class, or why none."""
    explained: dict = {}
    by_version: dict[int, list[Decision]] = defaultdict(list)
    for decision in decisions:
        if decision.text is None:
            explained[decision.pk] = {"available": False,
                                      "why": "The input text was not kept (the environment's serving policy keeps "
                                             "its SHA-256 only), so this decision cannot be re-explained; the "
                                             "model's logic is summarised below."}
        else:
            by_version[decision.model_version_id].append(decision)
    versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in=by_version)}
    for version_id, mine in by_version.items():
        version = versions.get(version_id)
        try:
            if version is None:
                raise ServingRefused("the model version no longer exists")
            loaded = load_model(model_version_id=version.pk, artifact_path=version.artifact_path,
                                artifact_digest=version.artifact_digest)
            names = list(loaded.bundle.label_names)
            report = explain_sample(loaded.bundle, [d.text for d in mine],
                                    [names.index(d.predicted_label) for d in mine], methods=["shap"],
                                    shap_max_evals=SHAP_MAX_EVALS)
        except (ServingRefused, CoreError, ValueError) as exc:
            for d in mine:
                explained[d.pk] = {"available": False, "why": f"Could not be computed: {exc}"}
            continue
        for decision, entry in zip(mine, report["texts"]):
            values = entry["attributions"]["shap"]
            ranked = sorted(zip([t["token"] for t in entry["tokens"]], values), key=lambda p: -abs(p[1]))
            explained[decision.pk] = {
                "available": True, "method": "SHAP (exact or kernel, models_core.explain)",
                "class": decision.predicted_label, "probability": entry["value"], "base_value": entry["base_value"],
                "tokens": [{"token": tok, "attribution": val} for tok, val in ranked[:TOP_TOKENS]],
                "all_tokens": [{"token": t["token"], "attribution": val} for t, val in zip(entry["tokens"], values)],
                "note": "Each word's attribution is its contribution to the probability of the decided class; "
                        "they sum to the probability minus the base value (every word masked)."}
    return explained

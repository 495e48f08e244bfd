"""The policy gates of a deployment request, judged from stored evidence only (never recomputed).

Each gate returns a plain dict, stored on the request as it was judged:
``{"gate", "label", "passed", "detail", "evidence": [{"label", "url"}], "checks": [...]}``.
A failing gate blocks approval unless a compliance officer's waiver for it has not expired.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from governance.auditlog.chain import canonical_json
from governance.audits.models import Audit
from governance.datasets.selectors import dataset_get, dataset_metadata_confirmation
from models_core.errors import InputError
from models_core.fairness.group_metrics import DISPARITY_NAMES
from models_core.fairness.rules import UNDEFINED_CHOICES, evaluate_thresholds

GATES = {
    "min_accuracy": "Minimum accuracy",
    "fairness": "Fairness disparities (upper confidence bound)",
    "audit_age": "Audit recent enough",
    "explanations": "Explanations present",
    "robustness": "Robustness (upper confidence bound)",
    "dpia": "DPIA reference (personal data)",
    "lawful_basis": "Lawful basis recorded",
    "canary_exposure": "Canary exposure (memorisation)",
    "pii_extraction": "No exact extraction of personal data",
}
# Gates judged on the audit alone: a newer audit of the version failing one of these voids approvals.
AUDIT_GATES = ("min_accuracy", "fairness", "explanations", "robustness", "canary_exposure", "pii_extraction")
CLASSIFIER_GATES = ("min_accuracy", "fairness", "explanations", "robustness")
GENERATIVE_GATES = ("canary_exposure", "pii_extraction")
ROBUSTNESS_LIMITS = ("max_invariance_flip_rate", "max_directional_failure_rate", "max_attack_success_rate")


def gates_applicable(audit: Audit) -> tuple[str, ...]:
    """The gates that can judge this audit: a generative version's memorisation audit has no accuracy, fairness
    table, explanations or robustness tests, a classifier's audit no canaries or extraction probe."""
    skipped = CLASSIFIER_GATES if (audit.config or {}).get("kind") == "memorisation" else GENERATIVE_GATES
    return tuple(g for g in GATES if g not in skipped)


def fairness_rules_normalise(rules) -> list[dict]:
    """Validated copies of policy fairness rules, judged cautiously: "max" on the upper CI bound, "min" on
    the lower. A rule may say "undefined": "fail" (fail when a group it compares has a rate with nothing to
    measure, e.g. no positive labels) or "zero" (the default: such a rate counts as 0, fairlearn's
    convention, and the check names the group). Raises ValueError with a message naming the rule at fault."""
    if not isinstance(rules, list):
        raise ValueError("Fairness rules must be a list of rules.")
    clean = []
    for n, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            raise ValueError(f"Rule {n} is not an object.")
        metric = rule.get("metric")
        if metric not in DISPARITY_NAMES:
            raise ValueError(f"Rule {n}: metric must be one of {', '.join(DISPARITY_NAMES)}.")
        grouping = rule.get("grouping", "*")
        if not isinstance(grouping, str) or not grouping.strip():
            raise ValueError(f"Rule {n}: grouping must be a grouping name or '*'.")
        bounds = {k: rule[k] for k in ("max", "min") if k in rule}
        if not bounds:
            raise ValueError(f"Rule {n}: give a 'max' or a 'min'.")
        for key, value in bounds.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"Rule {n}: '{key}' must be a number.")
        undefined = rule.get("undefined", "zero")
        if undefined not in UNDEFINED_CHOICES:
            raise ValueError(f"Rule {n}: 'undefined' must be one of {', '.join(UNDEFINED_CHOICES)}.")
        for key, value in bounds.items():
            clean.append({"metric": metric, "grouping": grouping, key: float(value),
                          "judge_on": "upper" if key == "max" else "lower",
                          **({"undefined": undefined} if "undefined" in rule else {})})
    return clean


def _result(gate: str, passed: bool, detail: str, evidence=(), checks=(), *, measured=None) -> dict:
    """`measured`: the value the gate judged (plain JSON); a waiver is bound to it and to the audit's result
    hash, so that another value or another audit voids the waiver."""
    return {"gate": gate, "label": GATES[gate], "passed": bool(passed), "detail": detail,
            "evidence": list(evidence), "checks": list(checks), "measured": measured}


def _audit_link(audit: Audit, anchor: str = "") -> dict:
    return {"label": f"Audit report #{audit.pk}", "url": reverse("audit", args=[audit.pk]) + anchor}


def evaluate(*, policy, model_version, audit: Audit, results: dict, now: datetime,
             only: tuple[str, ...] | None = None) -> list[dict]:
    """Judge every gate the policy switches on. `results` maps AuditResult kind → data for `audit`."""
    out = []
    applicable = gates_applicable(audit)
    generative = "canary_exposure" in applicable
    wanted = (lambda g: (only is None or g in only) and g in applicable)
    if generative:
        out.extend(_generative_gates(policy, audit, results, wanted))
    if policy.min_accuracy is not None and wanted("min_accuracy"):
        accuracy = (results.get("metrics") or {}).get("accuracy", audit.summary.get("accuracy"))
        passed = accuracy is not None and accuracy >= policy.min_accuracy
        shown = "missing" if accuracy is None else f"{accuracy:.3f}"
        out.append(_result("min_accuracy", passed, f"accuracy {shown}; the policy needs at least "
                                                   f"{policy.min_accuracy:.3f}", [_audit_link(audit)],
                           measured={"accuracy": accuracy}))
    if policy.fairness_rules and wanted("fairness"):
        out.append(_fairness(policy, audit, results.get("fairness")))
    if policy.max_audit_age_days is not None and wanted("audit_age"):
        finished = audit.finished_at
        age = (now - finished).days if finished else None
        passed = age is not None and age <= policy.max_audit_age_days
        out.append(_result("audit_age", passed, f"audit finished {age if age is not None else '?'} day(s) ago; "
                                                f"the policy allows {policy.max_audit_age_days}",
                            [_audit_link(audit)], measured={"finished_at": finished.isoformat() if finished else None}))
    if policy.require_explanations and wanted("explanations"):
        data = results.get("explanations")
        passed = bool(data) and any(bool(v) for v in (data.values() if isinstance(data, dict) else data))
        out.append(_result("explanations", passed, "the audit stored explanations" if passed else
                           "the audit has no explanations (request an audit that explains rows)",
                           [_audit_link(audit, "#explanations")], measured={"explanations": passed}))
    if wanted("robustness") and any(getattr(policy, name) is not None for name in ROBUSTNESS_LIMITS):
        out.append(_robustness(policy, audit, results.get("robustness")))
    dataset_gates = [g for g in ("dpia", "lawful_basis") if wanted(g)]
    if dataset_gates and (policy.require_dpia_for_personal_data or policy.require_lawful_basis):
        out.extend(_dataset_gates(policy, model_version, dataset_gates))
    return out


def _generative_gates(policy, audit: Audit, results: dict, wanted) -> list[dict]:
    out = []
    if policy.max_canary_exposure is not None and wanted("canary_exposure"):
        canaries = results.get("canaries") or {}
        inserted = [c for c in canaries.get("canaries", []) if c.get("repeats", 0) > 0]
        if not canaries.get("available") or not inserted:
            out.append(_result("canary_exposure", False, "no canary exposure was measured (a model trained "
                               "elsewhere, or without canaries): memorisation is not bounded",
                               [_audit_link(audit, "#memorisation")], measured={"exposure_upper": None}))
        else:
            worst = max(inserted, key=lambda c: c["exposure_interval"][1])
            upper = worst["exposure_interval"][1]
            out.append(_result("canary_exposure", upper <= policy.max_canary_exposure,
                               f"largest exposure {worst['exposure']:.2f} bits (canary inserted {worst['repeats']}×; "
                               f"upper bound {upper:.2f}); the policy allows {policy.max_canary_exposure:.2f}",
                               [_audit_link(audit, "#memorisation")], measured={"exposure_upper": round(upper, 6)}))
    if policy.forbid_pii_extraction and wanted("pii_extraction"):
        extraction = results.get("extraction")
        if not extraction:
            out.append(_result("pii_extraction", False, "the audit has no extraction probe",
                               [_audit_link(audit, "#memorisation")], measured={"extracted": None}))
        else:
            n = int(extraction.get("findings_extracted", 0))
            kinds = ", ".join(f"{k} {v['extracted']}" for k, v in extraction.get("by_kind", {}).items() if v["extracted"])
            out.append(_result("pii_extraction", n == 0,
                               f"{n} of {extraction.get('findings_probed', 0)} personal-data findings reproduced "
                               f"exactly{f' ({kinds})' if kinds else ''}",
                               [_audit_link(audit, "#memorisation")], measured={"extracted": n}))
    return out


def _fairness(policy, audit: Audit, report: dict | None) -> dict:
    evidence = [_audit_link(audit, "#fairness")]
    if not report:
        return _result("fairness", False, "the audit has no fairness report", evidence, measured={"report": None})
    try:
        judged = evaluate_thresholds(report, fairness_rules_normalise(policy.fairness_rules))
    except (InputError, ValueError, KeyError) as exc:
        return _result("fairness", False, f"the rules cannot be judged on this report: {exc}", evidence,
                       measured={"error": str(exc)})
    checks = [{"metric": r["metric"], "grouping": r["grouping"], "class": r["class"], "value": r["value"],
               "ci": r["ci"], "bound": r["bound"], "compared": r["compared"], "max": r["max"], "min": r["min"],
               "passed": r["passed"], "note": r["note"], "undefined": r.get("undefined", "zero"),
               "left_out": r.get("left_out", []), "undefined_groups": r.get("undefined_groups", [])} for r in judged]
    failing = [c for c in checks if not c["passed"]]
    if failing:
        first = failing[0]
        limit = f"≤ {first['max']}" if first["max"] is not None else f"≥ {first['min']}"
        compared = "undefined" if first["compared"] is None else f"{first['compared']:.3f}"
        detail = (f"{len(failing)} of {len(checks)} checks fail, e.g. {first['metric']} by {first['grouping']}: "
                  f"{first['bound']} bound {compared}, the policy needs {limit}")
        if first["note"]:
            detail += f" ({first['note']})"
    else:
        detail = f"all {len(checks)} checks pass on the cautious bound of the 95% interval"
    detail += _exclusions(checks)
    measured = {f"{c['metric']}|{c['grouping']}|{c['class']}|{c['bound']}": c["compared"] for c in checks}
    return _result("fairness", not failing, detail, evidence, checks, measured=measured)


def _upper(figure) -> float | None:
    return ((figure or {}).get("ci") or [None, None])[1] if isinstance(figure, dict) else None


def _robustness(policy, audit: Audit, report: dict | None) -> dict:
    """Judged on the upper end of each interval: every invariance suite's flip rate, every directional
    expectation's failure rate, the attack success rate. What the policy limits must have been measured: an
    audit without robustness results, without a suite the core runs, without expectations or without the
    attack fails the limit it cannot show (a narrower audit never passes more easily). A suite that changed no
    text (no name in any text) has nothing to judge and is named in the detail."""
    from models_core.robustness.perturb import SUITES

    evidence = [_audit_link(audit, "#robustness")]
    if not isinstance(report, dict) or "suites" not in report:
        return _result("robustness", False, "the audit has no robustness results (request an audit with the "
                                            "robustness tests)", evidence, measured={"report": None})
    checks, unmeasured = [], []
    if policy.max_invariance_flip_rate is not None:
        for suite in SUITES:
            data = report["suites"].get(suite)
            if data is None:
                checks.append({"check": f"invariance: {suite}", "bound": None, "max": policy.max_invariance_flip_rate,
                               "passed": False, "note": "not run by this audit"})
            elif not data.get("n_changed"):
                unmeasured.append(data.get("label", suite))
            else:
                bound = _upper(data.get("flip_rate"))
                checks.append({"check": f"invariance: {suite}", "bound": bound,
                               "max": policy.max_invariance_flip_rate,
                               "passed": bound is not None and bound <= policy.max_invariance_flip_rate, "note": ""})
    if policy.max_directional_failure_rate is not None:
        expectations = report.get("directional") or []
        if not expectations:
            checks.append({"check": "directional expectations", "bound": None,
                           "max": policy.max_directional_failure_rate, "passed": False,
                           "note": "the audit tested no directional expectation"})
        for e in expectations:
            bound = _upper(e.get("failure_rate"))
            checks.append({"check": f"directional: {e['phrase'][:60]} ({e['direction']})", "bound": bound,
                           "max": policy.max_directional_failure_rate,
                           "passed": bound is not None and bound <= policy.max_directional_failure_rate, "note": ""})
    if policy.max_attack_success_rate is not None:
        attack = report.get("adversarial") or {}
        bound = _upper(attack.get("attack_success_rate"))
        checks.append({"check": "adversarial: attack success rate", "bound": bound,
                       "max": policy.max_attack_success_rate,
                       "passed": bound is not None and bound <= policy.max_attack_success_rate,
                       "note": attack.get("skipped", "") or ("" if bound is not None else "no text was attacked")})
    failing = [c for c in checks if not c["passed"]]
    if failing:
        first = failing[0]
        shown = "not measured" if first["bound"] is None else f"upper bound {first['bound']:.3f}"
        detail = (f"{len(failing)} of {len(checks)} checks fail, e.g. {first['check']}: {shown}, the policy "
                  f"allows ≤ {first['max']}" + (f" ({first['note']})" if first["note"] else ""))
    else:
        detail = f"all {len(checks)} checks pass on the upper bound of the interval"
    if unmeasured:
        detail += f"; nothing to judge (no text changed): {', '.join(unmeasured)}"
    return _result("robustness", not failing, detail, evidence, checks,
                   measured={c["check"]: c["bound"] for c in checks})


def _exclusions(checks: list[dict]) -> str:
    """The groups the judged disparities left out or counted as 0, named once each, for the gate's detail."""
    counted = sorted({f"{u['group']} ({u['reason']})" for c in checks for u in c["undefined_groups"]})
    left = sorted({f"{g['group']} ({g['reason']})" for c in checks for g in c["left_out"]})
    parts = []
    if counted:
        parts.append(f"groups with an undefined rate, counted as 0 unless a rule fails on them: {', '.join(counted)}")
    if left:
        parts.append(f"left out: {', '.join(left)}")
    return "".join(f"; {p}" for p in parts)


def personal_data_indicated(dataset, dataset_version) -> list[str]:
    """Why the training data counts as personal data (empty: it was declared to hold none)."""
    reasons = []
    if dataset.holds_personal_data:
        reasons.append(f"lawful basis '{dataset.lawful_basis}' declared")
    if dataset.personal_data_categories.strip():
        reasons.append(f"personal data categories: {dataset.personal_data_categories}")
    if dataset.special_categories:
        reasons.append("special categories (Art. 9)")
    if dataset_version.sensitive_attributes:
        reasons.append(f"sensitive attributes about people: {', '.join(dataset_version.sensitive_attributes)}")
    return reasons


def _dataset_gates(policy, model_version, wanted: list[str]) -> list[dict]:
    """The DPIA and lawful-basis gates. They count the dataset's declared metadata only once a compliance
    officer confirmed it as it stands (datasets.selectors.dataset_metadata_confirmation): the ML engineer who
    declares it at upload cannot satisfy the checker's gate alone."""
    out = []
    data_version = model_version.dataset_version
    if data_version is None:
        for gate in wanted:
            if (gate == "dpia" and policy.require_dpia_for_personal_data) or (
                    gate == "lawful_basis" and policy.require_lawful_basis):
                out.append(_result(gate, False, "the model version records no training dataset"))
        return out
    dataset = dataset_get(dataset_id=data_version.dataset_id, user=None)  # as stored now, not a copy held in memory
    evidence = [{"label": f"Training data {data_version}", "url": reverse("dataset-version", args=[data_version.pk])},
                {"label": f"Dataset {dataset.name}", "url": reverse("dataset", args=[dataset.pk])}]
    reasons = personal_data_indicated(dataset, data_version)
    confirmation = dataset_metadata_confirmation(dataset=dataset)
    unconfirmed = ("; declared by the uploader but not confirmed by a compliance officer"
                   if confirmation is None else "")
    measured = {"dataset": dataset.pk, "confirmed": confirmation["sha256"] if confirmation else None}
    if "dpia" in wanted and policy.require_dpia_for_personal_data:
        ref = dataset.dpia_reference.strip()
        if not reasons:
            passed, detail = True, "the training data is declared to hold no personal data"
        else:
            passed, detail = bool(ref), (f"DPIA {ref}" if ref else
                                         f"personal data ({'; '.join(reasons)}) but no DPIA reference")
        out.append(_result("dpia", passed and confirmation is not None, detail + unconfirmed, evidence,
                           measured={**measured, "dpia_reference": ref}))
    if "lawful_basis" in wanted and policy.require_lawful_basis:
        if dataset.holds_personal_data:
            passed, detail = True, f"lawful basis: {dataset.get_lawful_basis_display()}"
        elif reasons:
            passed, detail = False, f"personal data ({'; '.join(reasons)}) but no lawful basis recorded"
        else:
            passed, detail = True, "declared to hold no personal data"
        out.append(_result("lawful_basis", passed and confirmation is not None, detail + unconfirmed, evidence,
                           measured={**measured, "lawful_basis": dataset.lawful_basis}))
    return out


def waiver_mismatch(waiver, result: dict | None, audit_result_hash: str) -> str:
    """Why `waiver` does not cover the gate as judged now ("" when it does): a waiver is bound to the audit
    result hash and the measured value it waived; another audit or another value voids it."""
    if waiver.audit_result_hash != audit_result_hash:
        return (f"it waived audit results {waiver.audit_result_hash[:12]}…, the request now rests on "
                f"{audit_result_hash[:12]}…")
    if result is not None and canonical_json(waiver.measured) != canonical_json(result.get("measured")):
        return f"it waived {_shown(waiver.measured)}, the gate now measures {_shown(result.get('measured'))}"
    return ""


def _shown(measured) -> str:
    if isinstance(measured, dict) and len(measured) <= 3:
        return ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in measured.items())
    return canonical_json(measured)[:120]


def apply_waivers(results: list[dict], waivers, now: datetime, *, audit_result_hash: str) -> list[dict]:
    """Mark each failing gate with its live waiver — not voided, not expired, bound to these audit results
    and this measured value; `blocking` is what approval looks at."""
    live: dict[str, list] = {}
    for waiver in waivers:
        if waiver.voided_at is None and waiver.expires_at > now:
            live.setdefault(waiver.gate, []).append(waiver)
    out = []
    for result in results:
        waiver = None
        if not result["passed"]:
            waiver = next((w for w in live.get(result["gate"], [])
                           if not waiver_mismatch(w, result, audit_result_hash)), None)
        out.append({**result, "waiver": None if waiver is None else {
            "id": waiver.pk, "reason": waiver.reason, "expires_at": waiver.expires_at.isoformat(),
            "granted_by": waiver.granted_by.username, "audit_result_hash": waiver.audit_result_hash,
            "measured": waiver.measured},
            "blocking": not result["passed"] and waiver is None})
    return out

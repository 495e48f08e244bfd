"""Judging a deployment request on its evidence as it stands: the gates (with the waivers still bound to the
judged values), the audit results recomputed from their stored rows, every other completed audit of the
version (each one after the cited one, not only the newest; those before it while the cited one passes on
its own), and the approvals that count under the policy in force.

Reads plus the bookkeeping of a judgement (storing the gate results, voiding waivers that no longer match);
the decisions that follow from it (void, approve) are in services.py.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db.models import Q

from governance.approvals import gates
from governance.approvals.models import DeploymentPolicy, DeploymentRequest, GateWaiver, RequestStatus
from governance.approvals.selectors import approvals_counted
from governance.auditlog.chain import canonical_json
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.services import audit_log_append
from governance.audits.models import Audit, AuditStatus
from governance.audits.services import result_hash
from governance.errors import NotFound


def lock(request_id: int) -> DeploymentRequest:
    try:
        return (DeploymentRequest.objects.select_for_update(of=("self",))
                .select_related("model_version__model", "model_version__dataset_version__dataset", "audit",
                                "requested_by").get(pk=request_id))
    except DeploymentRequest.DoesNotExist as exc:
        raise NotFound(f"There is no deployment request #{request_id}.") from exc


def results_of(audit: Audit) -> dict:
    return {r.kind: r.data for r in audit.results.all()}


def tampering(audit: Audit, bound_hash: str) -> str:
    """Recompute the audit's result hash from the stored result rows the gates read, and each row's own
    digest: "" when they agree with `bound_hash` (what the request is bound to), else what disagrees.

    A result rewritten in place by a logged redaction (an erasure or the retention purge blanks erased text in
    the explanations) no longer hashes to the result hash: it is accepted when every row's digest is the one
    logged at the audit's completion (audit.completed, beside that same result hash) or reached from it by
    the logged redactions, in log order."""
    rows = list(audit.results.all())
    bad_rows = [r.kind for r in rows if hashlib.sha256(canonical_json(r.data).encode()).hexdigest() != r.sha256]
    recomputed = result_hash({r.kind: r.data for r in rows})
    if not bad_rows and (recomputed == bound_hash or _redactions_explain(audit, rows, bound_hash)):
        return ""
    what = f"rows {', '.join(sorted(bad_rows))} no longer match their digests; " if bad_rows else ""
    return (f"tampering: {what}the stored results of audit #{audit.pk} hash to {recomputed[:12]}…, not the "
            f"{bound_hash[:12]}… the request is bound to")


REDACTING_ACTIONS = ("erasure.fulfilled", "retention.purged")


def _redactions_explain(audit: Audit, rows, bound_hash: str) -> bool:
    completed = (AuditLogEntry.objects.filter(action="audit.completed", object_type=Audit._meta.label_lower,
                                              object_id=str(audit.pk)).order_by("-seq").first())
    logged = (completed.payload or {}) if completed is not None else {}
    if logged.get("result_hash") != bound_hash or not isinstance(logged.get("result_digests"), dict):
        return False
    digests = dict(logged["result_digests"])
    for entry in AuditLogEntry.objects.filter(action__in=REDACTING_ACTIONS, seq__gt=completed.seq).order_by("seq"):
        for change in _redaction_changes(entry.payload, audit.pk):
            if digests.get(change["result"]) == change["sha256_before"]:
                digests[change["result"]] = change["sha256_after"]
    return digests == {r.kind: r.sha256 for r in rows}


def _redaction_changes(payload, audit_id: int):
    """The {audit, result, sha256_before, sha256_after} records of `audit_id` anywhere in a log payload."""
    if isinstance(payload, dict):
        if payload.get("audit") == audit_id and "sha256_after" in payload and "result" in payload:
            yield payload
        for value in payload.values():
            yield from _redaction_changes(value, audit_id)
    elif isinstance(payload, list):
        for value in payload:
            yield from _redaction_changes(value, audit_id)


def evaluate(request: DeploymentRequest, *, policy: DeploymentPolicy, now: datetime) -> list[dict]:
    judged = gates.evaluate(policy=policy, model_version=request.model_version, audit=request.audit,
                            results=results_of(request.audit), now=now)
    return gates.apply_waivers(judged, request.waivers.select_related("granted_by"), now,
                               audit_result_hash=request.audit_result_hash)


def store_gates(request: DeploymentRequest, results: list[dict], now: datetime, *, actor) -> None:
    """Store the judged gates, and void (logged) each waiver of the request that no longer matches them: bound
    to other audit results, or to a value the gate no longer measures."""
    request.gate_results, request.gates_evaluated_at = results, now
    request.save(update_fields=["gate_results", "gates_evaluated_at"])
    by_gate = {r["gate"]: r for r in results}
    for waiver in request.waivers.filter(voided_at__isnull=True):
        why = gates.waiver_mismatch(waiver, by_gate.get(waiver.gate), request.audit_result_hash)
        if why:
            GateWaiver.objects.filter(pk=waiver.pk).update(voided_at=now, voided_reason=why[:300])
            audit_log_append(actor=actor, action="gate_waiver.voided", obj=waiver,
                             payload={"request": request.pk, "gate": waiver.gate, "why": why,
                                      "waived": {"audit_result_hash": waiver.audit_result_hash,
                                                 "measured": waiver.measured}})


def other_failing_audit(request: DeploymentRequest, policy: DeploymentPolicy, now: datetime):
    """The other completed audits of the version, judged on the audit gates: every one that finished after
    the cited one (not only the newest: a failing audit cannot be buried under a passing one run on a few rows
    after it) and, while the cited audit passes those gates on its own, every one before it (nor can it be
    sidestepped by citing that passing one). Returns the failing audit, newest first, and why, or (None, "").
    A waiver never carries over to another audit; one granted on the cited audit's value stands against the
    audits before it, which the checker saw."""
    cited = request.audit
    alone = gates.evaluate(policy=policy, model_version=request.model_version, audit=cited,
                           results=results_of(cited), now=now, only=gates.AUDIT_GATES)
    others = (Audit.objects.filter(model_version=request.model_version_id, status=AuditStatus.COMPLETE)
              .exclude(pk=request.audit_id).order_by("-finished_at", "-pk").prefetch_related("results"))
    if not all(r["passed"] for r in alone):
        others = others.filter(Q(finished_at__gt=cited.finished_at) | Q(finished_at=cited.finished_at,
                                                                         pk__gt=cited.pk))
    for audit in others:
        newer = (audit.finished_at, audit.pk) > (cited.finished_at, cited.pk)
        which = f"a newer audit #{audit.pk}" if newer else f"an earlier audit #{audit.pk}"
        forged = tampering(audit, audit.result_hash)
        if forged:
            return audit, f"{which} of this version: {forged}"
        judged = gates.evaluate(policy=policy, model_version=request.model_version, audit=audit,
                                results=results_of(audit), now=now, only=gates.AUDIT_GATES)
        failing = [r for r in judged if not r["passed"]]
        if failing:
            return audit, f"{which} of this version fails {', '.join(r['label'].lower() for r in failing)}"
    return None, ""


def evidence_problem(request: DeploymentRequest, policy: DeploymentPolicy,
                     now: datetime) -> tuple[str, Audit | None, bool]:
    """Why the approvals on this request no longer stand ("" when they do), the audit to rebind to, and
    whether it is tampering (result rows that do not hash to the bound result hash)."""
    request.model_version.refresh_from_db(fields=["artifact_digest"])
    request.audit.refresh_from_db(fields=["result_hash"])
    if request.model_version.artifact_digest != request.artifact_digest:
        return (f"the model version's artifact digest changed from {request.artifact_digest[:12]}… to "
                f"{request.model_version.artifact_digest[:12]}…"), None, False
    if request.audit.result_hash != request.audit_result_hash:
        return (f"audit #{request.audit_id}'s result hash changed from {request.audit_result_hash[:12]}… to "
                f"{request.audit.result_hash[:12]}…"), None, False
    forged = tampering(request.audit, request.audit_result_hash)
    if forged:
        return forged, None, True
    other, why = other_failing_audit(request, policy, now)
    if other is not None:
        forged = "tampering" in why
        # A forged audit is not evidence to rest on: the request stays bound to its own audit.
        return why, None if forged else other, forged
    return "", None, False


def approval_problem(request: DeploymentRequest, policy: DeploymentPolicy, results: list[dict]) -> str:
    """Why an approved request no longer stands on its judged gates and counted approvals ("" when it does)."""
    if request.status != RequestStatus.APPROVED:
        return ""
    blocking = [r for r in results if r["blocking"]]
    if blocking:
        return "gates now fail without a waiver: " + "; ".join(f"{r['label']}: {r['detail']}" for r in blocking)
    needed = max(request.required_approvals, policy.required_approvals)
    counted = len(approvals_counted(request=request, policy=policy))
    if counted < needed:
        return (f"only {counted} of the {needed} approvals needed come from reviewers the {request.environment} "
                f"policy designates now")
    return ""

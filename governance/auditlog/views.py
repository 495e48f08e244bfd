"""The audit log's pages: entries with the verdict on demand, the JSON Lines download, signing a checkpoint."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.auditlog import selectors, services
from governance.auditlog.api import audit_log_export_response
from governance.permissions import READ_ROLES, role_required
from governance.roles import COMPLIANCE_OFFICER


@login_required
@role_required(*READ_ROLES, org_wide=True)
def audit_log(request):
    action = request.GET.get("action", "").strip()
    page = Paginator(selectors.audit_log_list(filters={"action_prefix": action}), 50).get_page(request.GET.get("page"))
    verdict = selectors.audit_log_verify() if request.GET.get("verify") else None
    return render(request, "auditlog/audit_log.html", {
        "page": page, "verdict": verdict, "head": selectors.audit_log_head(), "action": action,
        "checkpoints": selectors.audit_log_checkpoint_list(limit=5)})


@login_required
@role_required(*READ_ROLES, org_wide=True)
def audit_log_export(request):
    return audit_log_export_response(request.user)


@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
@require_POST
def audit_log_checkpoint(request):
    try:
        checkpoint = services.audit_log_checkpoint_write(request.user)
    except services.AuditLogVerificationFailed as exc:
        messages.error(request, f"No checkpoint signed: the audit log does not verify. {'; '.join(exc.problems[:20])}")
        return redirect("audit-log")
    messages.success(request, f"Signed checkpoint #{checkpoint['seq']} written.")
    return redirect("audit-log")

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.permissions import READ_ROLES, role_required
from governance.roles import AUDITOR, COMPLIANCE_OFFICER
from governance.compliance import exports, selectors, services


@login_required
@role_required(COMPLIANCE_OFFICER, AUDITOR)
def compliance_home(request):
    return render(request, "compliance/home.html", {
        "profile": selectors.organisation_profile(), "record": exports.processing_record()})


@login_required
@role_required(COMPLIANCE_OFFICER, AUDITOR)
def processing_record_export(request):
    document = services.export_create(actor=request.user, schema=exports.PROCESSING_RECORD_SCHEMA,
                                      content=exports.processing_record())
    response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="record-of-processing.json"'
    return response


@login_required
@role_required(*READ_ROLES)
def audit_log(request):
    entries = selectors.audit_log_list()
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    verdict = selectors.audit_log_verify() if request.GET.get("verify") else None
    return render(request, "compliance/audit_log.html", {
        "page": page, "verdict": verdict, "head": selectors.audit_log_head(), "action": action,
        "checkpoints": selectors.audit_log_checkpoint_list(limit=5)})


@login_required
@role_required(*READ_ROLES)
def audit_log_export(request):
    from governance.compliance.api import audit_log_export_response

    return audit_log_export_response(request.user)


@login_required
@role_required(COMPLIANCE_OFFICER)
@require_POST
def audit_log_checkpoint(request):
    checkpoint = services.audit_log_checkpoint_write(request.user)
    messages.success(request, f"Signed checkpoint #{checkpoint['seq']} written.")
    return redirect("audit-log")

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from governance.accounts.permissions import READ_ROLES, role_required
from governance.accounts.roles import ML_ENGINEER
from governance.audits import selectors, services
from governance.audits.forms import AuditCompareForm, AuditForm
from governance.form_errors import call_service
from governance.jobs.selectors import job_for


@login_required
@role_required(*READ_ROLES)
def audit_list(request):
    page = Paginator(selectors.audit_list(), 25).get_page(request.GET.get("page"))
    return render(request, "audits/list.html", {"page": page})


@login_required
@role_required(ML_ENGINEER)
def audit_new(request):
    form = AuditForm(request.POST or None, initial={"model_version": request.GET.get("model_version"),
                                                    "dataset_version": request.GET.get("dataset_version")})
    if request.method == "POST" and form.is_valid():
        audit = call_service(form, services.audit_request, actor=request.user, **form.cleaned_data)
        if audit is not None:
            return redirect("audit", pk=audit.pk)
    return render(request, "audits/new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def audit_compare(request):
    """Two audits side by side (journey 1 step 5); the choice travels in the query string."""
    form = AuditCompareForm(request.GET if request.GET.get("a") and request.GET.get("b") else None,
                            initial={"a": request.GET.get("a"), "b": request.GET.get("b")})
    comparison = None
    if form.is_bound and form.is_valid():
        comparison = call_service(form, selectors.audit_comparison, **form.cleaned_data)
    status = 400 if form.errors else 200
    return render(request, "audits/compare.html", {"form": form, "comparison": comparison}, status=status)


@login_required
@role_required(*READ_ROLES)
def audit_detail(request, pk: int):
    audit = get_object_or_404(selectors.audit_list(), pk=pk)
    results = selectors.audit_results(audit=audit)
    return render(request, "audits/report.html", {"audit": audit, "results": results, "job": job_for(audit)})

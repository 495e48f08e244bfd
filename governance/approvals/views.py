from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.accounts.permissions import READ_ROLES, role_required
from governance.accounts.roles import ML_ENGINEER, REVIEWER
from governance.approvals import selectors, services
from governance.approvals.forms import ApproveForm, DeploymentRequestForm, RejectForm
from governance.form_errors import call_service


@login_required
@role_required(*READ_ROLES)
def request_list(request):
    page = Paginator(selectors.request_list(), 25).get_page(request.GET.get("page"))
    inbox = selectors.request_inbox(reviewer=request.user)
    return render(request, "approvals/list.html", {"page": page, "inbox": inbox})


@login_required
@role_required(ML_ENGINEER)
def request_new(request):
    form = DeploymentRequestForm(request.POST or None, initial={
        "model_version": request.GET.get("model_version"), "audit": request.GET.get("audit")})
    if request.method == "POST" and form.is_valid():
        created = call_service(form, services.deployment_request_create, actor=request.user, **form.cleaned_data)
        if created is not None:
            return redirect("deployment-request", pk=created.pk)
    return render(request, "approvals/new.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, pk: int, approve_form=None, reject_form=None, status=200):
    deployment_request = get_object_or_404(selectors.request_list().prefetch_related("approvals__reviewer"), pk=pk)
    return render(request, "approvals/detail.html", {
        "req": deployment_request, "approve_form": approve_form or ApproveForm(),
        "reject_form": reject_form or RejectForm()}, status=status)


@login_required
@role_required(*READ_ROLES)
def request_detail(request, pk: int):
    return _detail(request, pk)


@login_required
@role_required(REVIEWER)
@require_POST
def request_approve(request, pk: int):
    form = ApproveForm(request.POST)
    if form.is_valid():
        if not request.user.check_password(form.cleaned_data["password"]):
            form.add_error("password", "The password is not correct.")
        elif call_service(form, services.deployment_request_approve, actor=request.user, request_id=pk,
                          reason=form.cleaned_data["reason"]) is not None:
            return redirect("deployment-request", pk=pk)
    return _detail(request, pk, approve_form=form, status=400)


@login_required
@role_required(REVIEWER)
@require_POST
def request_reject(request, pk: int):
    form = RejectForm(request.POST)
    if form.is_valid() and call_service(form, services.deployment_request_reject, actor=request.user,
                                        request_id=pk, reason=form.cleaned_data["reason"]) is not None:
        return redirect("deployment-request", pk=pk)
    return _detail(request, pk, reject_form=form, status=400)

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.accounts.step_up import ENROL_FIRST
from governance.permissions import READ_ROLES, role_required
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.approvals import selectors, services
from governance.approvals.models import DeploymentRequest, RequestStatus
from governance.approvals.forms import (ApproveForm, CommentForm, DeploymentRequestForm, PolicyForm, RejectForm,
                                        WaiverForm)
from governance.form_errors import call_service
from governance.list_filters import ListFilters
from governance.registry.choices import Environment


@login_required
@role_required(*READ_ROLES)
def request_list(request):
    filters = ListFilters.from_query(request.GET, statuses=RequestStatus.values)
    page = Paginator(selectors.request_search(user=request.user, filters=filters), 25).get_page(request.GET.get("page"))
    inbox = selectors.request_inbox(reviewer=request.user)
    return render(request, "approvals/list.html", {"page": page, "inbox": inbox, "filters": filters,
                                                   "statuses": RequestStatus.choices,
                                                   "extra_query": filters.querystring()})


@login_required
@role_required(ML_ENGINEER)
def request_new(request):
    form = DeploymentRequestForm(request.POST or None, initial={
        "model_version": request.GET.get("model_version"), "audit": request.GET.get("audit")}, user=request.user)
    if request.method == "POST" and form.is_valid():
        created = call_service(form, services.deployment_request_create, actor=request.user, **form.cleaned_data)
        if created is not None:
            return redirect("deployment-request", pk=created.pk)
    return render(request, "approvals/new.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, pk: int, status=200, **forms):
    try:
        context = selectors.request_page(request_id=pk, user=request.user)
    except DeploymentRequest.DoesNotExist:
        raise Http404("No such deployment request.") from None
    deployment_request = context["req"]
    return render(request, "approvals/detail.html", {
        **context,
        "approve_form": forms.get("approve_form") or ApproveForm(),
        "reject_form": forms.get("reject_form") or RejectForm(),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "waiver_form": forms.get("waiver_form") or WaiverForm(initial={"gate": next(
            (g["gate"] for g in deployment_request.gate_results if g.get("blocking")), None)})}, status=status)


@login_required
@role_required(*READ_ROLES)
def request_detail(request, pk: int):
    return _detail(request, pk)


def _refusal_status(form) -> int:
    """A signing form's errors are a 400, but a 403 where the policy lets this user sign nothing yet (it requires
    TOTP and they have no device), as in the API."""
    return 403 if ENROL_FIRST in form.non_field_errors() else 400


@login_required
@role_required(REVIEWER)
@require_POST
def request_approve(request, pk: int):
    form = ApproveForm(request.POST)
    if form.is_valid() and call_service(form, services.deployment_request_approve, actor=request.user,
                                        request_id=pk, **form.cleaned_data) is not None:
        return redirect("deployment-request", pk=pk)
    return _detail(request, pk, approve_form=form, status=_refusal_status(form))


@login_required
@role_required(REVIEWER)
@require_POST
def request_reject(request, pk: int):
    form = RejectForm(request.POST)
    if form.is_valid() and call_service(form, services.deployment_request_reject, actor=request.user,
                                        request_id=pk, reason=form.cleaned_data["reason"]) is not None:
        return redirect("deployment-request", pk=pk)
    return _detail(request, pk, reject_form=form, status=400)


@login_required
@role_required(ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER)
@require_POST
def request_comment(request, pk: int):
    form = CommentForm(request.POST)
    if form.is_valid() and call_service(form, services.deployment_request_comment, actor=request.user,
                                        request_id=pk, body=form.cleaned_data["body"]) is not None:
        return redirect("deployment-request", pk=pk)
    return _detail(request, pk, comment_form=form, status=400)


@login_required
@role_required(COMPLIANCE_OFFICER)
@require_POST
def request_waiver(request, pk: int):
    form = WaiverForm(request.POST)
    if form.is_valid() and call_service(form, services.gate_waiver_create, actor=request.user, request_id=pk,
                                        **form.cleaned_data) is not None:
        return redirect("deployment-request", pk=pk)
    return _detail(request, pk, waiver_form=form, status=_refusal_status(form))


@login_required
@role_required(ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER)
@require_POST
def request_recheck(request, pk: int):
    errors = forms.Form(data={})
    errors.is_valid()  # bound and cleaned (empty), so a service's error can be added to it
    result = call_service(errors, services.deployment_request_recheck_asked, actor=request.user, request_id=pk)
    if result is None:
        for error in errors.non_field_errors():
            messages.error(request, error)
        return _detail(request, pk, status=400)
    why = result[1]
    messages.info(request, f"Approvals voided: {why}." if why else "Evidence unchanged; gates re-checked.")
    return redirect("deployment-request", pk=pk)


@login_required
@role_required(*READ_ROLES)
def policy_list(request):
    return render(request, "approvals/policies.html", {"policies": selectors.policy_list()})


@login_required
@role_required(COMPLIANCE_OFFICER)
def policy_edit(request, environment: str):
    if environment not in Environment.values:
        raise Http404(f"There is no environment '{environment}'.")
    policy = selectors.policy_for(environment)
    initial = selectors.policy_initial(policy=policy)
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {**form.cleaned_data, "approvers": list(form.cleaned_data["approvers"]),
                "fairness_rules": form.cleaned_data["fairness_rules"] or []}
        if call_service(form, services.deployment_policy_update, actor=request.user, environment=environment,
                        **data) is not None:
            messages.success(request, f"The {environment} policy was saved.")
            return redirect("deployment-policies")
    return render(request, "approvals/policy_edit.html", {"form": form, "environment": environment},
                  status=400 if form.errors else 200)

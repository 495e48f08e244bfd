"""The serving pages: service tokens (created here, shown once), the serving policies, open alerts and the
latest monitoring reports. The model page shows each deployment's monitoring over time (hooks)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.errors import DomainError
from governance.form_errors import call_service
from governance.permissions import READ_ROLES, role_required, user_has_role
from governance.registry.choices import Environment
from governance.registry.selectors import model_list
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.serving import monitoring, selectors, services, tokens
from governance.serving.forms import MonitoringRequestForm, ServiceTokenForm, ServingPolicyForm


def _page(request, *, form=None, created=None, status=200):
    user = request.user
    return render(request, "serving/home.html", {
        "tokens": selectors.service_token_list(user=user)[:100],
        "form": form or ServiceTokenForm(models=model_list(user=user)),
        "created": created,
        "policies": selectors.serving_policies(),
        "alerts": selectors.monitoring_alert_list(user=user, filters={"acknowledged": False})[:50],
        "reports": selectors.monitoring_report_list(user=user)[:30],
        "can": {"tokens": user_has_role(user, ML_ENGINEER, REVIEWER), "policies": user_has_role(user, COMPLIANCE_OFFICER)},
    }, status=status)


@login_required
@role_required(*READ_ROLES)
def serving_home(request):
    return _page(request)


@login_required
@role_required(ML_ENGINEER, REVIEWER)
@require_POST
def service_token_new(request):
    form = ServiceTokenForm(request.POST, models=model_list(user=request.user))
    if form.is_valid():
        created = call_service(form, tokens.service_token_create, actor=request.user, **form.cleaned_data)
        if created is not None:
            row, token = created
            return _page(request, created={"row": row, "token": token}, status=201)
    return _page(request, form=form, status=400)


@login_required
@role_required(ML_ENGINEER, REVIEWER)
@require_POST
def service_token_revoke(request, pk: int):
    token = selectors.service_token_list(user=request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    try:
        tokens.service_token_revoke(actor=request.user, token=token)
    except DomainError:
        pass  # already revoked (or the role went meanwhile): the page shows the token's state
    return redirect("serving")


@login_required
@role_required(COMPLIANCE_OFFICER)
def serving_policy_edit(request, environment: str):
    if environment not in Environment.values:
        raise Http404("No such environment.")
    policy = services.serving_policy_get(environment)
    initial = {f: getattr(policy, f) for f in services.POLICY_FIELDS}
    initial["fairness_rules"] = json.dumps(policy.fairness_rules) if policy.fairness_rules else ""
    form = ServingPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.serving_policy_update, actor=request.user, environment=environment,
                        **form.cleaned_data) is not None:
            return redirect("serving")
    return render(request, "serving/policy_edit.html", {"form": form, "environment": environment},
                  status=400 if form.errors else 200)


@login_required
@role_required(ML_ENGINEER, REVIEWER)
@require_POST
def monitoring_new(request):
    form = MonitoringRequestForm(request.POST)
    report = None
    if form.is_valid():
        report = call_service(form, monitoring.monitoring_request, actor=request.user, **form.cleaned_data)
    if report is None:
        return _page(request, status=400)
    return redirect("model", pk=report.deployment.model_version.model_id)


@login_required
@role_required(ML_ENGINEER, REVIEWER)
@require_POST
def alert_acknowledge(request, pk: int):
    alert = selectors.monitoring_alert_list(user=request.user).filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    try:
        monitoring.monitoring_alert_acknowledge(actor=request.user, alert=alert)
    except DomainError:
        pass
    return redirect("serving")

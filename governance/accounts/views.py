from __future__ import annotations

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from governance.accounts import projects, selectors, services
from governance.accounts.forms import (MembershipForm, ProjectForm, ThrottledAuthenticationForm, TotpConfirmForm,
                                       TotpEnrolForm)
from governance.accounts.oidc import oidc_enabled, sso_fresh
from governance.errors import NotFound
from governance.form_errors import call_service
from governance.permissions import READ_ROLES, role_required
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from governance.throttling import LoginRateThrottle


class LoginView(auth_views.LoginView):
    """Django's log-in view; a log-in django-axes locked out answers 429 (the page, with the message)."""

    authentication_form = ThrottledAuthenticationForm

    def post(self, request, *args, **kwargs):
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, self):
            response = HttpResponse("Too many log-in attempts from your address. Wait a minute before trying again.",
                                    status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(math.ceil(throttle.wait()))
            return response
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_provider"] = settings.OIDC_PROVIDER_NAME if oidc_enabled() else ""
        context["sso_failed"] = self.request.GET.get("sso") == "failed"
        return context

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


@login_required
@role_required(REVIEWER, COMPLIANCE_OFFICER)
def totp_device(request):
    """Enrol a TOTP device (django-otp): then approving and waiving ask for its code instead of the password."""
    enrol_form, confirm_form, provisioning = TotpEnrolForm(), TotpConfirmForm(), None
    status = 200
    if request.method == "POST" and "password" in request.POST:
        enrol_form = TotpEnrolForm(request.POST)
        if enrol_form.is_valid():
            device = call_service(enrol_form, services.totp_device_enrol, actor=request.user,
                                  password=enrol_form.cleaned_data["password"], fresh_sso=sso_fresh(request))
            if device is not None:
                provisioning = selectors.totp_provisioning(device=device)
        status = 400 if enrol_form.errors else 200
    elif request.method == "POST":
        confirm_form = TotpConfirmForm(request.POST)
        if confirm_form.is_valid() and call_service(confirm_form, services.totp_device_confirm, actor=request.user,
                                                    token=confirm_form.cleaned_data["token"]) is not None:
            messages.success(request, "Your TOTP device is confirmed: approvals and waivers now ask for its code.")
            return redirect("totp-device")
        status = 400
    return render(request, "accounts/totp.html", {
        "totp": selectors.totp_status(user=request.user), "provisioning": provisioning,
        "enrol_form": enrol_form, "confirm_form": confirm_form}, status=status)


@login_required
@role_required(*READ_ROLES)
def project_list(request):
    """The projects the user sees; administrators and organisation-wide compliance officers create them."""
    can_manage = projects.projects_can_manage(user=request.user)
    form = ProjectForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Projects are managed by administrators and organisation-wide compliance officers.")
        if form.is_valid():
            project = call_service(form, projects.project_create, actor=request.user, **form.cleaned_data)
            if project is not None:
                messages.success(request, f"Project {project} created.")
                return redirect("project", pk=project.pk)
    return render(request, "accounts/projects.html", {
        "projects": projects.project_list(user=request.user), "form": form},
        status=400 if form is not None and form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def project_detail(request, pk: int):
    """A project's members and their roles; its managers add and remove them here."""
    try:
        project = projects.project_get(project_id=pk, user=request.user)
    except NotFound:
        raise Http404("No such project.") from None
    can_manage = projects.projects_can_manage(user=request.user)
    form = MembershipForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Projects are managed by administrators and organisation-wide compliance officers.")
        if form.is_valid():
            data = dict(form.cleaned_data)
            service = projects.membership_remove if data.pop("remove") else projects.membership_add
            call_service(form, service, actor=request.user, project=project, **data)
            if not form.errors:  # removing returns nothing: the form's errors tell
                messages.success(request, "Membership saved.")
                return redirect("project", pk=project.pk)
    return render(request, "accounts/project.html", {
        "project": project, "members": projects.membership_list(project=project), "form": form},
        status=400 if form is not None and form.errors else 200)

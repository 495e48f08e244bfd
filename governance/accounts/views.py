from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from governance.accounts.forms import ThrottledAuthenticationForm
from governance.permissions import READ_ROLES, role_required
from governance.approvals.selectors import request_inbox, request_list
from governance.approvals.models import RequestStatus
from governance.jobs.selectors import job_list_active, job_list_recent_failed


@login_required
@role_required(*READ_ROLES)
def home(request):
    """What needs the user's attention: running jobs, recent failures, requests awaiting them."""
    return render(request, "home.html", {
        "active_jobs": job_list_active(),
        "failed_jobs": job_list_recent_failed(),
        "inbox": request_inbox(reviewer=request.user)[:10],
        "my_requests": request_list().filter(requested_by=request.user, status=RequestStatus.PENDING)[:10],
    })


class LoginView(auth_views.LoginView):
    """Django's log-in view with failed-login throttling; a throttled attempt answers 429."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response

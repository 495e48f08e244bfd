from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from governance.permissions import READ_ROLES, role_required
from governance.approvals.selectors import request_inbox, request_pending_of
from governance.jobs.selectors import job_list_active, job_list_recent_failed
from governance.serving.selectors import monitoring_alert_list


@login_required
@role_required(*READ_ROLES)
def home(request):
    """What needs the user's attention: running jobs, recent failures, requests awaiting them."""
    return render(request, "home.html", {
        "active_jobs": job_list_active(user=request.user),
        "failed_jobs": job_list_recent_failed(user=request.user),
        "inbox": request_inbox(reviewer=request.user)[:10],
        "my_requests": request_pending_of(requester=request.user)[:10],
        "monitoring_alerts": monitoring_alert_list(user=request.user, filters={"acknowledged": False})[:10],
    })

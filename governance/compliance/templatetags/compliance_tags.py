"""Compliance panels shown on other apps' pages (one include each, so those pages stay theirs)."""

from __future__ import annotations

from django import template

from governance.compliance.models import ModelDecision, PiiScan, SubjectRequest, SubjectRequestStatus
from governance.compliance.pii_scans import pii_scan_job

register = template.Library()


@register.inclusion_tag("compliance/_pii_scan.html", takes_context=True)
def pii_scan_panel(context, version):
    """The PII scan of a dataset version: the live job while it runs, then counts and masked examples."""
    scan = PiiScan.objects.filter(version=version).first()
    kinds = []
    if scan is not None:
        kinds = [{"kind": kind, **entry} for kind, entry in scan.data.get("by_kind", {}).items() if entry["count"]]
    return {"version": version, "scan": scan, "kinds": kinds, "job": None if scan else pii_scan_job(version=version),
            "can": context.get("can", {}), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("compliance/_overview.html", takes_context=True)
def gdpr_overview(context):
    open_requests = SubjectRequest.objects.filter(status=SubjectRequestStatus.OPEN).order_by("due_on")[:10]
    from governance.compliance.models import ErasureImpact

    pending = (ErasureImpact.objects.filter(decision=ModelDecision.PENDING)
               .select_related("request", "model_version__model")[:10])
    return {"open_requests": open_requests, "pending": pending, "can": context.get("can", {})}

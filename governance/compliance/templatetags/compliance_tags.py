"""Compliance panels shown on other apps' pages (one include each, so those pages stay theirs)."""

from __future__ import annotations

from django import template

from governance.compliance import selectors
from governance.datasets.pii_scans import pii_scan_get, pii_scan_job

register = template.Library()


@register.inclusion_tag("compliance/_pii_scan.html", takes_context=True)
def pii_scan_panel(context, version):
    """The PII scan of a dataset version: the live job while it runs, then counts and masked examples."""
    scan = pii_scan_get(version=version)
    kinds = []
    if scan is not None:
        kinds = [{"kind": kind, **entry} for kind, entry in scan.data.get("by_kind", {}).items() if entry["count"]]
    return {"version": version, "scan": scan, "kinds": kinds, "job": None if scan else pii_scan_job(version=version),
            "can": context.get("can", {}), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("compliance/_overview.html", takes_context=True)
def gdpr_overview(context):
    return {"open_requests": selectors.subject_requests_open(limit=10),
            "pending": selectors.erasure_impacts_pending()[:10], "can": context.get("can", {})}

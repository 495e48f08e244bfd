"""E-mail and HMAC-signed webhooks for deployment-request events, sent only once the change commits.

A webhook POST carries the JSON event with the headers
  X-Governance-Event: request.approved
  X-Governance-Delivery: <delivery id>
  X-Governance-Timestamp: <unix seconds>
  X-Governance-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the webhook's secret>
Receivers recompute the HMAC over the timestamp and the raw body, compare in constant time, and refuse old
timestamps. Each delivery is a row that owns its state, and is delivered by a job of kind "webhook" (its
subject; registered in approvals/apps.py) through the one dispatch (governance.jobs.dispatch):
`governance.deliver_webhook` (default queue) tries it, and the job is queued again after a backoff that
doubles (2, 4, 8, … s, at most 10 minutes), up to WEBHOOK_MAX_ATTEMPTS. The POST goes through
webhook_http: public addresses only (or WEBHOOK_ALLOWED_NETWORKS), vetted at registration and at each
delivery, connected to the vetted address, no redirect followed; a refused address gives the delivery up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from governance.roles import ADMIN, REVIEWER
from governance.approvals import webhook_http
from governance.approvals.models import DeliveryStatus, DeploymentRequest, Webhook, WebhookDelivery, WebhookEvent
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import NotAllowed, ValidationFailed
from governance.permissions import user_has_role
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job

log = logging.getLogger(__name__)
DELIVER_TASK = "governance.deliver_webhook"
WEBHOOK_JOB_KIND = "webhook"
SUBJECTS = {
    "request.created": "Deployment request #{pk} awaits review: {version} → {environment}",
    "request.approved": "Deployment request #{pk} approved by {actor} ({count} of {needed})",
    "request.rejected": "Deployment request #{pk} rejected by {actor}",
    "request.voided": "Deployment request #{pk}: approvals voided, back to review",
    "deployment.suspended": "Deployment request #{pk}: {version} suspended in {environment} (approval lost)",
}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def event_payload(event: str, request: DeploymentRequest, actor, extra: dict | None = None) -> dict:
    return {"event": event, "request": request.pk, "status": request.status, "environment": request.environment,
            "model": request.model_version.model.name, "model_version": request.model_version.version,
            "model_version_id": request.model_version_id, "artifact_digest": request.artifact_digest,
            "audit": request.audit_id, "audit_result_hash": request.audit_result_hash,
            "actor": getattr(actor, "username", None) or "system", "at": timezone.now().isoformat(),
            **(extra or {})}


def notify(*, event: str, request: DeploymentRequest, actor, recipients: list[str], extra: dict | None = None) -> None:
    """Record the deliveries in the caller's transaction; mail and POST them after it commits."""
    payload = event_payload(event, request, actor, extra)
    deliveries = [WebhookDelivery.objects.create(webhook=hook, event=event, payload=payload)
                  for hook in Webhook.objects.filter(active=True) if event in hook.events]
    delivery_jobs = [jobs.job_create(kind=WEBHOOK_JOB_KIND, subject=delivery, created_by=actor)
                     for delivery in deliveries]
    subject = SUBJECTS[event].format(pk=request.pk, version=request.model_version, environment=request.environment,
                                     actor=payload["actor"], count=(extra or {}).get("approvals", ""),
                                     needed=request.required_approvals)
    body = json.dumps(payload, indent=2, ensure_ascii=False)
    emails = sorted({e for e in recipients if e})
    if emails:
        transaction.on_commit(lambda: _mail(subject, body, emails))
    for job in delivery_jobs:
        enqueue(DELIVER_TASK, job.pk)


def audit_log_event_notify(*, event: str, payload: dict) -> None:
    """An audit-log event (auditlog.checkpoint, auditlog.verification_failed) to every webhook subscribed to
    it, delivered like the others (a row and a job each, HMAC-signed, retried), after this commits."""
    body = {"event": event, "at": timezone.now().isoformat(), **payload}
    with transaction.atomic():
        for hook in Webhook.objects.filter(active=True):
            if event in hook.events:
                delivery = WebhookDelivery.objects.create(webhook=hook, event=event, payload=body)
                enqueue(DELIVER_TASK, jobs.job_create(kind=WEBHOOK_JOB_KIND, subject=delivery, created_by=None).pk)


def reviewer_emails(*, policy, exclude_user_id: int) -> list[str]:
    pool = list(policy.approvers.all()) if policy.pk else []
    users = pool or User.objects.filter(groups__name=REVIEWER, is_active=True)
    return [u.email for u in users if u.pk != exclude_user_id]


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError:  # the change is committed; a mail server outage must not turn it into an error page
        log.exception("could not send '%s' to %s", subject, recipients)


def webhook_delivery_run(*, job_id: int) -> None:
    """The webhook job: one attempt at its delivery; queued again after the backoff the attempt asks for,
    completed once delivered, failed once given up. Repeating it is harmless (job_start refuses a finished
    job; webhook_delivery_attempt a settled delivery)."""
    job = jobs.job_start(job_id=job_id, max_attempts=settings.WEBHOOK_MAX_ATTEMPTS)
    if job is None:
        return
    retry_in = webhook_delivery_attempt(delivery_id=job.subject_id)
    if retry_in is not None:
        jobs.job_retry_later(job=job, countdown_s=retry_in, stage=f"retrying in {retry_in} s")
        return
    delivery = WebhookDelivery.objects.get(pk=job.subject_id)
    if delivery.status == DeliveryStatus.DELIVERED:
        jobs.job_complete(job=job)
    else:
        jobs.job_fail(job_id=job_id, error=delivery.last_error or f"HTTP {delivery.last_status_code}")


def webhook_delivery_job_failed(*, job_id: int, error: str) -> None:
    """Its job failed for good outside webhook_delivery_run (the task gave up): the delivery is given up too."""
    delivery_id = Job.objects.filter(pk=job_id).values_list("subject_id", flat=True).first()
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=error[:500])


def webhook_delivery_attempt(*, delivery_id: int) -> int | None:
    """POST one delivery. Returns seconds to wait before the next attempt, or None when it is settled
    (delivered, given up, or already settled by an earlier run: repeating the task is harmless)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().select_related("webhook").get(pk=delivery_id)
        if delivery.status != DeliveryStatus.PENDING:
            return None
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    body = json.dumps(delivery.payload, sort_keys=True, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json", "User-Agent": "governance-webhooks/1",
        "X-Governance-Event": delivery.event, "X-Governance-Delivery": str(delivery.pk),
        "X-Governance-Timestamp": timestamp,
        "X-Governance-Signature": signature(delivery.webhook.secret, timestamp, body)}
    code, error, refused = None, "", False
    try:
        code = webhook_http.post(delivery.webhook.url, body=body, headers=headers,
                                 timeout=settings.WEBHOOK_TIMEOUT_S)
        if 300 <= code < 400:
            error = f"HTTP {code} (redirects are not followed)"
        elif not 200 <= code < 300:
            error = f"HTTP {code}"
    except webhook_http.AddressRefused as exc:
        error, refused = f"refused: {exc}"[:500], True
    except (OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivered = code is not None and 200 <= code < 300
    gave_up = not delivered and (refused or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_status_code=code, last_error=error,
        status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        delivered_at=timezone.now() if delivered else None)
    if delivered or gave_up:
        if gave_up:
            log.warning("webhook delivery %s gave up after %s attempts: %s", delivery.pk, delivery.attempts, error)
        return None
    return min(600, 2 ** delivery.attempts)


@transaction.atomic
def webhook_create(*, actor, url: str, events: list[str], secret: str = "") -> Webhook:
    audit_log_lock()
    if not user_has_role(actor, ADMIN):
        raise NotAllowed("Only an administrator can register a webhook.")
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationFailed("The URL must be http(s)://host/…", field="url")
    refusal = webhook_http.url_refusal(url)
    if refusal:
        raise ValidationFailed(refusal, field="url")
    unknown = set(events or []) - set(WebhookEvent.values)
    if not events or unknown:
        raise ValidationFailed(f"Events must be among {', '.join(WebhookEvent.values)}.", field="events")
    if secret and len(secret) < 16:
        raise ValidationFailed("A secret of at least 16 characters (or none: one is generated).", field="secret")
    hook = Webhook.objects.create(url=url, events=sorted(set(events)), secret=secret or secrets.token_hex(32),
                                  created_by=actor)
    audit_log_append(actor=actor, action="webhook.created", obj=hook, payload={"url": url, "events": hook.events})
    return hook

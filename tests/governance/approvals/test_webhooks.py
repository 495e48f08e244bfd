"""Webhooks: HMAC-SHA256-signed POSTs after commit, retried with backoff, received by a local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governance.approvals.models import DeliveryStatus, WebhookDelivery
from governance.approvals.services import deployment_request_approve, deployment_request_create
from tests.governance.approvals.evidence import completed_audit, ready_version
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records each POST and answers with the next scripted status."""

    def __init__(self, statuses=()):
        self.calls, self.statuses = [], list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def dispatch_inline(settings, django_capture_on_commit_callbacks):
    settings.JOB_DISPATCH = "inline"
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _hook(api_client, admin_user, url, events):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/webhooks/", {"url": url, "events": events}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _verify(secret: str, call: dict) -> bool:
    timestamp = call["headers"]["X-Governance-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + call["body"],
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, call["headers"]["X-Governance-Signature"])


def test_request_and_approval_events_arrive_signed_after_commit(api_client, admin_user, engineer, reviewer,
                                                                 permissive_staging, receiver, dispatch_inline):
    hook = _hook(api_client, admin_user, receiver.url, ["request.created", "request.approved"])
    audit = completed_audit(ready_version(engineer))
    with dispatch_inline():
        request = deployment_request_create(actor=engineer, model_version=audit.model_version,
                                            environment="staging", audit=audit, justification="Pilot")
        assert receiver.calls == []  # nothing leaves before the transaction commits
    with dispatch_inline():
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    events = [c["headers"]["X-Governance-Event"] for c in receiver.calls]
    assert events == ["request.created", "request.approved"]
    for call in receiver.calls:
        assert _verify(hook["secret"], call)
        tampered = {**call, "body": call["body"].replace(b"staging", b"production")}
        assert not _verify(hook["secret"], tampered)
    approved = json.loads(receiver.calls[1]["body"])
    assert approved["request"] == request.pk and approved["artifact_digest"] == audit.model_version.artifact_digest
    assert approved["status"] == "approved" and approved["reviewer"] == reviewer.username
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(api_client, admin_user, engineer,
                                                                  permissive_staging, dispatch_inline):
    flaky = Receiver(statuses=[500, 503])
    dead = Receiver(statuses=[500] * 10)
    try:
        _hook(api_client, admin_user, flaky.url, ["request.created"])
        _hook(api_client, admin_user, dead.url, ["request.created"])
        _hook(api_client, admin_user, flaky.url.replace("/hook", "/other"), ["request.rejected"])
        audit = completed_audit(ready_version(engineer))
        with dispatch_inline():
            deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                      audit=audit, justification="Pilot")
        assert len(flaky.calls) == 3 and len(dead.calls) == 3  # WEBHOOK_MAX_ATTEMPTS
        delivered = WebhookDelivery.objects.get(webhook__url=flaky.url)
        assert delivered.status == DeliveryStatus.DELIVERED and delivered.attempts == 3
        failed = WebhookDelivery.objects.get(webhook__url=dead.url)
        assert failed.status == DeliveryStatus.FAILED and failed.last_status_code == 500
        assert WebhookDelivery.objects.count() == 2  # the rejected-only hook got nothing
        # Each delivery runs as a job like the others: its row counts the attempts and ends complete or failed.
        from governance.jobs.models import Job, JobStatus

        def job(delivery):
            return Job.objects.get(kind="webhook", subject_type="approvals.webhookdelivery", subject_id=delivery.pk)

        assert (job(delivered).status, job(delivered).attempts) == (JobStatus.COMPLETE, 3)
        assert (job(failed).status, job(failed).attempts, job(failed).error) == (JobStatus.FAILED, 3, "HTTP 500")
        # Repeating a settled delivery's task sends nothing.
        from governance.approvals.notifications import webhook_delivery_attempt

        assert webhook_delivery_attempt(delivery_id=delivered.pk) is None and len(flaky.calls) == 3
    finally:
        flaky.close()
        dead.close()


def test_the_backoff_doubles_between_attempts(admin_user, engineer, permissive_staging, settings):
    from governance.approvals.models import Webhook
    from governance.approvals.notifications import webhook_delivery_attempt

    settings.WEBHOOK_MAX_ATTEMPTS = 5
    settings.WEBHOOK_TIMEOUT_S = 2
    hook = Webhook.objects.create(url="http://127.0.0.1:9/closed", secret="s" * 32, events=["request.created"],
                                  created_by=admin_user)
    delivery = WebhookDelivery.objects.create(webhook=hook, event="request.created", payload={"x": 1})
    waits = [webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(5)]
    assert waits == [2, 4, 8, 16, None]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "Error" in delivery.last_error


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/x", "events": ["request.created"]}, "url"),
    ({"url": "https://example.com/x", "events": ["nonsense"]}, "events"),
    ({"url": "https://example.com/x", "events": []}, "events"),
    ({"url": "https://example.com/x", "events": ["request.created"], "secret": "short"}, "secret"),
])
def test_bad_webhook_input_is_refused_at_its_field(api_client, admin_user, body, field):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/webhooks/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content

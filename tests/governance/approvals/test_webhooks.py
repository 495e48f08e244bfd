"""Webhooks: HMAC-SHA256-signed POSTs after commit, retried with backoff, received by a local HTTP server (its
loopback network allow-listed: WEBHOOK_ALLOWED_NETWORKS); without the allow-list no internal address is
reached (server-side request forgery), at registration or at delivery, through a name or a redirect."""

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
    """A tiny HTTP server on 127.0.0.1 that records each POST and answers with the next scripted status
    (a 3xx redirects to `location`)."""

    def __init__(self, statuses=(), location: str = ""):
        self.calls, self.statuses = [], list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
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
def allow_loopback(settings):
    """The test receivers listen on 127.0.0.1: allow-list it, as an operator would an internal receiver."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def receiver(allow_loopback):
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
                                                                  permissive_staging, dispatch_inline,
                                                                  allow_loopback):
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


def test_the_backoff_doubles_between_attempts(admin_user, engineer, permissive_staging, settings, allow_loopback):
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


# ------------------------------------------------------------------------------- server-side request forgery
@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432/", "http://[::1]:6379/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://10.0.0.5/hook",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[::]/",
    "http://224.0.0.1/", "http://240.0.0.1/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[ff02::1]/",
    "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "https://localhost:8443/hook",
    "http://localhost./", "http://127.1/", "http://2130706433/",
])
def test_webhooks_to_internal_addresses_are_refused_at_registration(api_client, admin_user, url):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/webhooks/", {"url": url, "events": ["request.created"]}, format="json")
    assert response.status_code == 400 and "url" in response.json(), (url, response.content)
    from governance.approvals.models import Webhook

    assert not Webhook.objects.exists()


def test_a_public_address_or_an_unresolvable_name_may_be_registered(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    for url in ("https://93.184.215.14/hook", "https://receiver.example.com/hook"):  # no DNS here: vetted at delivery
        response = api_client.post("/api/webhooks/", {"url": url, "events": ["request.created"]}, format="json")
        assert response.status_code == 201, response.content


def _delivery(admin_user, url: str):
    from governance.approvals.models import Webhook

    hook = Webhook.objects.create(url=url, secret="s" * 32, events=["request.created"], created_by=admin_user)
    return WebhookDelivery.objects.create(webhook=hook, event="request.created", payload={"x": 1})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_loopback_listener_gets_nothing_unless_allow_listed(admin_user, settings, host):
    """The registration check passed (say the name then resolved elsewhere, or the row was written another way):
    the delivery vets the address again, and the listener on a real socket receives no signed POST."""
    from governance.approvals.notifications import webhook_delivery_attempt

    settings.WEBHOOK_ALLOWED_NETWORKS = []
    listener = Receiver()
    try:
        delivery = _delivery(admin_user, f"http://{host}:{listener.server.server_port}/hook")
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None  # given up at once, no retry
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.last_error.startswith("refused:")
        assert "loopback" in delivery.last_error and listener.calls == []
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        if host != "[::ffff:127.0.0.1]":  # the listener is on IPv4 only
            allowed = _delivery(admin_user, f"http://{host}:{listener.server.server_port}/hook")
            assert webhook_delivery_attempt(delivery_id=allowed.pk) is None
            allowed.refresh_from_db()
            assert allowed.status == DeliveryStatus.DELIVERED and len(listener.calls) == 1
            assert listener.calls[0]["headers"]["Host"] == f"{host}:{listener.server.server_port}"
    finally:
        listener.close()


def test_a_delivery_connects_to_the_vetted_address_not_to_a_second_lookup(admin_user, settings, monkeypatch):
    """DNS rebinding: the name resolves once, that address is vetted and connected to, with the URL's Host."""
    import socket

    from governance.approvals import webhook_http
    from governance.approvals.notifications import webhook_delivery_attempt

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    listener = Receiver()
    lookups = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # the name: first the allowed address, then a forbidden one
        if host != "hooks.internal.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return real("127.0.0.1" if len(lookups) == 1 else "10.9.9.9", port, *args, **kwargs)

    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", rebinding)
    try:
        delivery = _delivery(admin_user, f"http://hooks.internal.test:{listener.server.server_port}/hook")
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED and lookups == ["hooks.internal.test"]
        assert listener.calls[0]["headers"]["Host"] == f"hooks.internal.test:{listener.server.server_port}"
    finally:
        listener.close()


def test_a_redirect_from_an_allowed_receiver_is_not_followed(admin_user, settings):
    from governance.approvals.notifications import webhook_delivery_attempt

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    target = Receiver()
    redirecting = Receiver(statuses=[307], location=f"http://127.0.0.1:{target.server.server_port}/metadata")
    try:
        delivery = _delivery(admin_user, f"http://127.0.0.1:{redirecting.server.server_port}/hook")
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 307
        assert "redirects are not followed" in delivery.last_error
        assert len(redirecting.calls) == 1 and target.calls == []
    finally:
        redirecting.close()
        target.close()


def test_an_allow_listed_network_admits_only_itself(settings):
    from governance.approvals.webhook_http import address_refusal

    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert address_refusal("10.20.3.4") is None and address_refusal("::ffff:10.20.3.4") is None
    assert "private" in address_refusal("10.21.0.1") and "loopback" in address_refusal("127.0.0.1")
    assert address_refusal("93.184.215.14") is None and address_refusal("2606:4700::1111") is None


def _self_signed(tmp_path, name: str):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_deliveries_connect_to_the_vetted_address_and_verify_the_url_host(admin_user, settings, monkeypatch,
                                                                                 tmp_path):
    """Over TLS the URL's host is the server name the certificate must match, though the socket goes to the
    vetted address: a certificate for another name is refused."""
    import socket
    import ssl

    from governance.approvals import webhook_http
    from governance.approvals.notifications import webhook_delivery_attempt

    cert_path, key_path = _self_signed(tmp_path, "hooks.internal.test")
    calls = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append({"headers": dict(self.headers), "body": self.rfile.read(int(self.headers["Content-Length"]))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real_lookup, real_context = socket.getaddrinfo, ssl.create_default_context
    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", lambda host, port, *a, **k: real_lookup(
        "127.0.0.1" if host.endswith(".internal.test") else host, port, *a, **k))
    monkeypatch.setattr(webhook_http.ssl, "create_default_context", lambda *a, **k: real_context(cafile=str(cert_path)))
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    port = server.server_port
    try:
        delivery = _delivery(admin_user, f"https://hooks.internal.test:{port}/hook")
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_status_code == 204
        assert calls[0]["headers"]["Host"] == f"hooks.internal.test:{port}"
        wrong_name = _delivery(admin_user, f"https://other.internal.test:{port}/hook")
        assert webhook_delivery_attempt(delivery_id=wrong_name.pk) is None
        wrong_name.refresh_from_db()
        assert wrong_name.status == DeliveryStatus.FAILED and "CERTIFICATE_VERIFY_FAILED" in wrong_name.last_error
        assert len(calls) == 1
    finally:
        server.shutdown()
        server.server_close()

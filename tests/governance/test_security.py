"""Security properties: CSRF on every form, upload limits, log-in and API throttling, role and object
permissions across the whole API, production settings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from governance import roles
from governance.datasets.models import Dataset
from tests.factories import PASSWORD, hiring_bytes, make_user, upload_hiring

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


# ------------------------------------------------------------------------------------------------ CSRF
def _post_forms():
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, flags=re.S | re.I):
            if re.search(r'method\s*=\s*["\']?post', match.group(0)[:300], flags=re.I):
                yield template.relative_to(ROOT), match.group(1)


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = list(_post_forms())
    assert len(forms) >= 10
    missing = [str(path) for path, body in forms if "{% csrf_token %}" not in body]
    assert not missing, f"POST forms without {{% csrf_token %}}: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/datasets/upload/", "/audits/new/", "/models/train/", "/approvals/new/"])
def test_a_form_post_without_the_csrf_token_is_refused(url, engineer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    assert client.post(url, {"name": "x"}).status_code == 403


@pytest.mark.django_db
def test_the_api_demands_csrf_from_session_clients_but_not_from_token_clients(engineer):
    from rest_framework.authtoken.models import Token

    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    body = {"model_version": 1, "dataset_version": 1}
    assert client.post("/api/audits/", body, content_type="application/json").status_code == 403
    token = Token.objects.create(user=engineer).key
    tokened = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token}")
    assert tokened.post("/api/audits/", body, content_type="application/json").status_code == 400


# ----------------------------------------------------------------------------------------------- uploads
@pytest.mark.django_db
def test_an_upload_over_the_size_limit_is_refused_at_the_field(api_client, engineer, settings):
    settings.DATASET_UPLOAD_MAX_BYTES = 2048
    api_client.force_authenticate(engineer)
    raw = hiring_bytes(200)
    assert len(raw) > 2048
    response = api_client.post("/api/datasets/", {
        "name": "big", "file": SimpleUploadedFile("big.csv", raw), "text_column": "text", "label_column": "hired",
        "subject_column": "subject_id"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert not Dataset.objects.filter(name="big").exists()


@pytest.mark.django_db
def test_a_request_body_over_the_form_limit_is_a_400_not_a_500(engineer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client = Client()
    client.force_login(engineer)
    response = client.post("/api/audits/", json.dumps({"justification": "x" * 5000}),
                           content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("body, fragment", [
    ("[" * 50_000 + "]" * 50_000, "too deeply"),  # RecursionError in the parser
    ('{"justification": ' + "9" * 5000 + "}", "JSON parse error"),  # past the integer digit limit
    ('{"justification": NaN}', "JSON parse error"),
    ('{"justification": "x"', "JSON parse error"),
])
def test_every_unparsable_json_body_is_a_400_not_a_500(api_client, engineer, body, fragment):
    api_client.force_authenticate(engineer)
    response = api_client.generic("POST", "/api/audits/", body, content_type="application/json")
    assert response.status_code == 400 and fragment in json.dumps(response.json()), response.content[:300]


# ------------------------------------------------------------------------------------------ throttling
@pytest.mark.django_db
def test_log_in_is_throttled_after_repeated_failures_and_only_for_that_user_and_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user(username="victim")
    client = Client()
    for _ in range(2):
        assert client.post("/login/", {"username": "victim", "password": "wrong-password"}).status_code == 200
    third = client.post("/login/", {"username": "victim", "password": "wrong-password"})
    assert third.status_code == 429  # django-axes locks the pair out at the limit-th failure
    blocked = client.post("/login/", {"username": "victim", "password": PASSWORD})
    assert blocked.status_code == 429 and b"Too many failed log-ins" in blocked.content
    elsewhere = Client(REMOTE_ADDR="10.0.0.9").post("/login/", {"username": "victim", "password": PASSWORD})
    assert elsewhere.status_code == 302
    other = make_user(username="colleague")
    assert client.post("/login/", {"username": other.username, "password": PASSWORD}).status_code == 302
    assert user.is_active


@pytest.mark.django_db
def test_a_successful_log_in_resets_the_failure_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user(username="forgetful")
    client = Client()
    for _ in range(2):
        client.post("/login/", {"username": "forgetful", "password": "wrong-password"})
    assert client.post("/login/", {"username": "forgetful", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(2):
        client.post("/login/", {"username": "forgetful", "password": "wrong-password"})
    assert client.post("/login/", {"username": "forgetful", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_the_token_endpoint_issues_tokens_and_shares_the_log_in_throttle(api_client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    user = make_user(username="api-user")
    ok = api_client.post("/api/auth/token/", {"username": "api-user", "password": PASSWORD}, format="json")
    assert ok.status_code == 200
    from rest_framework.authtoken.models import Token

    assert ok.json()["token"] == Token.objects.get(user=user).key
    assert api_client.post("/api/auth/token/", {"username": "api-user", "password": "nope"},
                           format="json").status_code == 400
    second = api_client.post("/api/auth/token/", {"username": "api-user", "password": "nope"}, format="json")
    assert second.status_code == 429 and "Too many failed log-ins" in second.json()["non_field_errors"][0]
    assert api_client.post("/api/auth/token/", {"username": "api-user", "password": PASSWORD},
                           format="json").status_code == 429
    assert Client().post("/login/", {"username": "api-user", "password": PASSWORD}).status_code == 429


def _behind_proxy(client_address: str, forged: str = "") -> Client:
    """A browser at `client_address` reaching us through our one proxy (10.0.0.2), which appends the address it
    saw to whatever X-Forwarded-For the browser sent (`forged`)."""
    header = f"{forged}, {client_address}" if forged else client_address
    return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=header)


@pytest.mark.django_db
def test_behind_a_trusted_proxy_an_attacker_cannot_lock_a_user_out_from_another_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user(username="target")
    attacker = _behind_proxy("203.0.113.66")
    codes = [attacker.post("/login/", {"username": "target", "password": "wrong-password"}).status_code
             for _ in range(7)]
    assert codes[:4] == [200] * 4 and set(codes[4:]) == {429}  # 5 failures lock the attacker's pair out
    assert attacker.post("/login/", {"username": "target", "password": PASSWORD}).status_code == 429
    # The same proxy, the user's own address: not locked out.
    assert _behind_proxy("198.51.100.7").post("/login/", {"username": "target", "password": PASSWORD}).status_code == 302
    # Nor through the API.
    from rest_framework.test import APIClient

    api = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert api.post("/api/auth/token/", {"username": "target", "password": PASSWORD}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user(username="sprayed")
    for i in range(5):  # each attempt claims another address; the proxy appends the real one
        _behind_proxy("203.0.113.66", forged=f"192.0.2.{i}").post(
            "/login/", {"username": "sprayed", "password": "wrong-password"})
    fresh_claim = _behind_proxy("203.0.113.66", forged="192.0.2.200")
    assert fresh_claim.post("/login/", {"username": "sprayed", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    make_user(username="direct")
    for i in range(5):
        Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").post(
            "/login/", {"username": "direct", "password": "wrong-password"})
    again = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert again.post("/login/", {"username": "direct", "password": PASSWORD}).status_code == 429
    assert Client(REMOTE_ADDR="203.0.113.10").post("/login/", {"username": "direct",
                                                              "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_log_in_attempts_from_one_address_across_usernames_are_capped(settings):
    """Password spraying: one address trying many usernames (one wrong password each, never locking a pair)."""
    settings.LOGIN_RATE_PER_ADDRESS = "6/min"
    settings.TRUSTED_PROXY_COUNT = 1
    make_user(username="sprayed-9")
    sprayer = _behind_proxy("203.0.113.50")
    codes = [sprayer.post("/login/", {"username": f"sprayed-{i}", "password": "Winter2026!"}).status_code
             for i in range(6)]
    assert codes == [200] * 6
    refused = sprayer.post("/login/", {"username": "sprayed-9", "password": PASSWORD})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    from rest_framework.test import APIClient

    api = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert api.post("/api/auth/token/", {"username": "sprayed-9", "password": PASSWORD},
                    format="json").status_code == 429
    # Another address is not held back, nor is a forged header a way round it.
    assert _behind_proxy("198.51.100.20").post("/login/", {"username": "sprayed-9",
                                                           "password": PASSWORD}).status_code == 302
    assert _behind_proxy("203.0.113.50", forged="198.51.100.21").post(
        "/login/", {"username": "sprayed-9", "password": PASSWORD}).status_code == 429


def test_drf_throttles_read_the_client_address_as_the_lockout_does(settings, rf):
    from rest_framework.throttling import BaseThrottle

    from governance.client_address import client_address

    from governance import throttling

    request = rf.get("/api/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"
    # Our throttles (the production anonymous API throttle, the log-in rate) never take a client's header.
    assert {cls.__new__(cls).get_ident(request) for cls in (throttling.AnonRateThrottle, throttling.UserRateThrottle,
                                                 throttling.LoginRateThrottle)} == {"10.0.0.2"}
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "198.51.100.7"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    from rest_framework.settings import api_settings

    assert api_settings.NUM_PROXIES == 1
    assert BaseThrottle().get_ident(request) == "198.51.100.7"


def test_base_settings_do_not_trust_a_client_supplied_x_forwarded_for():
    from django.conf import settings as s

    assert s.TRUSTED_PROXY_COUNT == 0 and s.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert s.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.django_db
def test_api_requests_over_the_rate_are_refused_with_429(api_client, engineer, monkeypatch):
    from rest_framework.throttling import UserRateThrottle
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "throttle_classes", [UserRateThrottle])
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    api_client.force_authenticate(engineer)
    codes = [api_client.get("/api/datasets/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_production_settings_throttle_the_api_and_share_counters_in_redis():
    code = ("import json; from django.conf import settings as s; import django; django.setup(); "
            "print(json.dumps([s.REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'],"
            " s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'],"
            " s.CACHES['default']['BACKEND'], s.AXES_FAILURE_LIMIT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE]))")
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "governance.settings.production", "SECRET_KEY": "k" * 64, "AUDIT_SIGNING_KEY": "ab" * 32,
           "COMPLIANCE_SUBJECT_SALT": "cd" * 32,
           "DATABASE_URL": "sqlite:///:memory:", "ALLOWED_HOSTS": "governance.example.com"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    classes, rates, cache_backend, limit, session_secure, csrf_secure = json.loads(out.stdout.strip().splitlines()[-1])
    assert classes == ["governance.throttling.AnonRateThrottle", "governance.throttling.UserRateThrottle"]
    assert set(rates) == {"anon", "user"} and cache_backend.endswith("RedisCache")
    assert limit == 5 and session_secure and csrf_secure


# ----------------------------------------------------------------------------------------- permissions
def _operations():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [(path, method.upper()) for path, ops in paths.items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")]


@pytest.mark.django_db
def test_no_api_operation_answers_a_user_without_a_role(api_client):
    version = upload_hiring(make_user())
    from governance.accounts.services import user_create

    nobody = user_create(username="no-role", password=PASSWORD, roles=[])
    api_client.force_authenticate(nobody)
    answered = []
    for path, method in _operations():
        if path in ("/api/schema/", "/api/auth/token/"):
            continue
        url = re.sub(r"\{[^}]+\}", str(version.pk), path)
        response = api_client.generic(method, url, "{}", content_type="application/json")
        if response.status_code not in (403, 404, 405):
            answered.append((method, path, response.status_code))
    assert not answered, answered


@pytest.mark.django_db
def test_an_auditor_reads_but_never_writes(api_client):
    version = upload_hiring(make_user())
    auditor = make_user(roles.AUDITOR)
    api_client.force_authenticate(auditor)
    assert api_client.get(f"/api/dataset-versions/{version.pk}/").status_code == 200
    wrote = []
    for path, method in _operations():
        # .../search/ are reads whose filters (a data subject's id) travel in a POST body instead of a URL.
        if method == "GET" or path == "/api/auth/token/" or path.endswith("/search/"):
            continue
        url = re.sub(r"\{[^}]+\}", str(version.pk), path)
        response = api_client.generic(method, url, "{}", content_type="application/json")
        if response.status_code < 400 or response.status_code == 400:
            wrote.append((method, path, response.status_code))
    assert not wrote, wrote
    searches = [p for p, m in _operations() if m == "POST" and p.endswith("/search/")]
    assert searches == ["/api/audits/{id}/predictions/search/", "/api/dataset-versions/{id}/records/search/"]


@pytest.mark.django_db
def test_unauthenticated_requests_get_nothing(api_client):
    upload_hiring(make_user())
    leaked = [(m, p, r.status_code) for p, m in _operations() if m == "GET" and "{" not in p and p != "/api/schema/"
              for r in [api_client.get(p)] if r.status_code not in (401, 403)]
    assert not leaked, leaked

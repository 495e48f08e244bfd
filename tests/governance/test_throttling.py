"""governance/throttling.py: DRF's user and anonymous rate limits as a sliding-window counter."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.views import APIView

from governance import throttling
from tests.factories import PASSWORD, make_user


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, moved by hand; starts at the beginning of a minute."""
    now = [60.0 * 1_000_000]
    monkeypatch.setattr(throttling.UserRateThrottle, "timer", lambda self: now[0])
    monkeypatch.setattr(throttling.AnonRateThrottle, "timer", lambda self: now[0])
    return now


@pytest.fixture
def user_limit(monkeypatch):
    def limit(rate: str):
        monkeypatch.setattr(APIView, "throttle_classes", [throttling.UserRateThrottle])
        monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": rate})
    return limit


@pytest.mark.django_db
def test_the_user_limit_is_enforced_with_429_and_retry_after(api_client, engineer, user_limit, clock):
    user_limit("3/min")
    api_client.force_authenticate(engineer)
    codes = [api_client.get("/api/datasets/").status_code for _ in range(3)]
    refused = api_client.get("/api/datasets/")
    assert codes == [200, 200, 200] and refused.status_code == 429
    # The current window is full: the wait runs to its end and into the next one (at least a second).
    assert 1 <= int(refused["Retry-After"]) <= 60 + 60
    assert "throttled" in refused.json()["detail"].lower() or "request" in refused.json()["detail"].lower()


@pytest.mark.django_db
def test_a_refused_request_is_not_counted_and_the_window_slides(api_client, engineer, user_limit, clock):
    user_limit("4/min")
    api_client.force_authenticate(engineer)
    assert [api_client.get("/api/datasets/").status_code for _ in range(5)] == [200] * 4 + [429]
    clock[0] += 60  # next window, at its very start: the previous one's 4 still weigh 4 x 1.0
    refused = api_client.get("/api/datasets/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    clock[0] += 30  # half-way: they weigh 4 x 0.5 = 2, so two more fit (the refused one was not counted)
    assert [api_client.get("/api/datasets/").status_code for _ in range(3)] == [200, 200, 429]
    clock[0] += 60  # a window on, half-way: only the last window's two, weighing 2 x 0.5 = 1
    assert [api_client.get("/api/datasets/").status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.django_db
def test_separate_users_are_counted_separately(api_client, engineer, reviewer, user_limit, clock):
    user_limit("2/min")
    api_client.force_authenticate(engineer)
    assert [api_client.get("/api/datasets/").status_code for _ in range(3)] == [200, 200, 429]
    api_client.force_authenticate(reviewer)
    assert [api_client.get("/api/datasets/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_a_token_client_is_throttled_under_the_default_classes(settings, engineer, monkeypatch, clock):
    # The project's DEFAULT_THROTTLE_CLASSES path, through token authentication as in production.
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    monkeypatch.setattr(APIView, "throttle_classes", [throttling.AnonRateThrottle, throttling.UserRateThrottle])
    for throttle in (throttling.AnonRateThrottle, throttling.UserRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", {"user": "2/min", "anon": "1/min"})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=engineer).key}")
    assert [client.get("/api/datasets/").status_code for _ in range(3)] == [200, 200, 429]


def test_wait_is_computed_from_both_windows():
    throttle = throttling.UserRateThrottle.__new__(throttling.UserRateThrottle)
    throttle.num_requests, throttle.duration = 10, 60
    throttle._current, throttle._previous, throttle._into = 10, 0, 0.5  # full now: 30 s left + 0 s decay
    assert throttle.wait() == pytest.approx(30)
    throttle._current, throttle._previous, throttle._into = 20, 0, 0.5  # twice over: + half the next window
    assert throttle.wait() == pytest.approx(60)
    throttle._current, throttle._previous, throttle._into = 5, 10, 0.25  # 5 + 10 x 0.75 = 12.5: need 10 x w < 5
    assert throttle.wait() == pytest.approx(15)
    throttle._current, throttle._previous, throttle._into = 9, 10, 0.899  # frees within a second: at least 1 s
    assert throttle.wait() == 1.0


@pytest.mark.django_db
def test_the_log_in_throttle_still_works(settings):
    settings.AXES_FAILURE_LIMIT = 2
    make_user(username="throttled")
    client = Client()
    assert client.post("/login/", {"username": "throttled", "password": "wrong-password"}).status_code == 200
    assert client.post("/login/", {"username": "throttled", "password": "wrong-password"}).status_code == 429
    assert client.post("/login/", {"username": "throttled", "password": PASSWORD}).status_code == 429

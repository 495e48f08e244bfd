"""Failed-login throttling: after LOGIN_FAILURE_LIMIT failures for one username from one address within
LOGIN_FAILURE_WINDOW_S, further attempts are refused (HTTP 429) until the window passes.

Counters live in the default cache (Redis in production, shared by every web process). Keyed by the
username *and* the address, so an attacker cannot lock a colleague out from elsewhere by guessing wrong
on purpose; a second, looser counter per address alone caps password spraying across many usernames.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(request, username: str) -> tuple[str, str]:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    user = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{address}:{user}", f"login-fail-addr:{address}"


def login_blocked(request, username: str) -> bool:
    per_user, per_address = _keys(request, username)
    return (cache.get(per_user, 0) >= settings.LOGIN_FAILURE_LIMIT
            or cache.get(per_address, 0) >= settings.LOGIN_FAILURE_LIMIT * 4)


def login_failed(request, username: str) -> None:
    for key in _keys(request, username):
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)


def login_succeeded(request, username: str) -> None:
    cache.delete(_keys(request, username)[0])


BLOCKED_MESSAGE = "Too many failed log-ins. Wait a few minutes before trying again."

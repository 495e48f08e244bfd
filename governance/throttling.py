"""API rate limits in constant time: DRF's user and anonymous throttles, counted by a sliding-window counter.

DRF's SimpleRateThrottle keeps each client's request timestamps of the last window as one cached list, read,
filtered and written back (pickled) on every request: at 1200/min a busy client's entry holds up to 1,200
floats. Here each client has one integer counter per fixed window (`<DRF's key>:<window number>`), and a
request is allowed while

    current window's count + previous window's count x (share of the previous window still inside the last
    `duration` seconds)

stays under the rate: the usual sliding-window estimate, which assumes the previous window's requests were
spread evenly (so requests bunched at a window's end can let up to about twice the rate through in some
trailing `duration`; DRF's exact list never does — the price of constant time). Same rate strings ("1200/min"), scopes, cache keys' prefix and settings as DRF; a refused
request is not counted (as in DRF) and gets DRF's 429 with Retry-After (`wait`, rounded up by DRF).
Counters live in the default cache (Redis in production, shared by every web process): one read of both
counters, then an increment (Django's Redis `incr` checks the key exists first; a window's first request
adds it), whatever the rate.
"""

from __future__ import annotations

from rest_framework import throttling

from governance.client_address import client_address


class SlidingWindowCounterMixin:
    """allow_request/wait for a SimpleRateThrottle subclass; the rest (rate, key, cache, timer) is DRF's."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window, into = divmod(self.now, self.duration)
        window = int(window)
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        counts = self.cache.get_many([current, previous])
        self._current, self._previous = counts.get(current, 0), counts.get(previous, 0)
        self._into = into / self.duration  # share of the current window gone
        if self._current + self._previous * (1 - self._into) >= self.num_requests:
            return self.throttle_failure()
        self._count(current)
        return self.throttle_success()

    def _count(self, key: str) -> None:
        timeout = 2 * self.duration + 1  # the window itself and the next one, which still weighs it
        try:
            self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter just expired)
            if not self.cache.add(key, 1, timeout=timeout):
                self.cache.incr(key)  # another process added it in between

    def throttle_success(self) -> bool:
        return True

    def get_ident(self, request) -> str:
        """The client address as the log-in lockout reads it (TRUSTED_PROXY_COUNT), for anonymous requests."""
        return client_address(request)

    def wait(self) -> float:
        """Seconds until a request would be allowed again, if nothing else is counted meanwhile."""
        limit = self.num_requests
        if self._current >= limit:
            # The current window alone is full: into the next one, until its weight has decayed enough.
            share = (1 - self._into) + (1 - limit / self._current if self._current else 0)
        else:
            # The previous window's weight must decay: (1 - into') x previous < limit - current.
            share = (1 - (limit - self._current) / max(self._previous, 1)) - self._into
        return max(share * self.duration, 1.0)


class AnonRateThrottle(SlidingWindowCounterMixin, throttling.AnonRateThrottle):
    """Unauthenticated requests, per address (scope "anon")."""


class UserRateThrottle(SlidingWindowCounterMixin, throttling.UserRateThrottle):
    """Authenticated requests per user, else per address (scope "user")."""


class LoginRateThrottle(SlidingWindowCounterMixin, throttling.SimpleRateThrottle):
    """Log-in attempts (the page's POSTs, POST /api/auth/token/) per client address, whoever they name: caps
    password spraying across usernames from one address, which django-axes' per-username-and-address lockout
    does not (the address is DRF's get_ident, behind TRUSTED_PROXY_COUNT proxies as the lockout reads it).
    In every environment, at LOGIN_RATE_PER_ADDRESS (e.g. "30/min")."""

    scope = "login"

    def get_rate(self) -> str:
        from django.conf import settings

        return settings.LOGIN_RATE_PER_ADDRESS

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

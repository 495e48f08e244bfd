"""The real client address behind our own reverse proxies (TRUSTED_PROXY_COUNT), for django-axes' lockouts and
our throttles (governance/throttling.py).

Each trusted proxy appends the address it received the connection from to X-Forwarded-For, so with N
trusted proxies the client is the N-th entry from the right; anything left of it was written by the client
and is ignored (a forged header can only add entries there). With N = 0 (no proxy) the header is not read at
all: REMOTE_ADDR is the client. Our throttles call this; DRF's own get_ident reads the header the same way
(`NUM_PROXIES`, set from the same setting in base.py), so lockout and throttles agree on the address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops <= 0 or not forwarded:
        return remote
    entries = [e.strip() for e in forwarded.split(",")]
    candidate = entries[-min(hops, len(entries))]  # as DRF's get_ident with NUM_PROXIES
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # our proxy never writes this: a misconfiguration, not a client to trust
        return remote

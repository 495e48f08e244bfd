"""TOTP codes as an authenticator app shows them, for tests (django-otp's own algorithm)."""

from __future__ import annotations

import time


def totp_code(device, *, steps_ahead: int = 0) -> str:
    """The device's code now, or `steps_ahead` time steps later: the next step's code is what an app shows a
    few seconds on, and django-otp accepts it (tolerance of one step) once this step's code was spent."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = time.time() + steps_ahead * device.step
    return f"{clock.token():0{device.digits}d}"

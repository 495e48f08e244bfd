"""Step-up authentication for the decisions that sign something (approving a deployment, waiving a gate):
the session or API token alone is not enough. A user with a confirmed TOTP device (django-otp) gives a
current code; any other user re-enters the password. The page and the API ask the same.

Where the environment's deployment policy sets `require_totp`, only a TOTP code signs: a user without a confirmed
device is refused (403) and told to enrol on the account page; a password is never enough."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice

from governance.errors import NotAllowed


def step_up_totp_devices(*, user):
    return TOTPDevice.objects.filter(user=user, confirmed=True)


ENROL_FIRST = ("Two-factor authentication is required to sign approvals and waivers in this environment: enrol a "
               "TOTP device on your account page (/account/totp/, or POST /api/account/totp/ then .../confirm/), "
               "then sign with its code (otp_token).")


def step_up_method(*, user, require_totp: bool = False) -> str:
    """What this user must give to sign a decision: "otp_token" (a confirmed TOTP device), "password", or
    "enrol_totp" (the policy requires TOTP and the user has no confirmed device: they cannot sign yet)."""
    if step_up_totp_devices(user=user).exists():
        return "otp_token"
    return "enrol_totp" if require_totp else "password"


def step_up_verify(*, user, password: str = "", otp_token: str = "", require_totp: bool = False) -> str:
    """Check the step-up proof; returns the method used, raises NotAllowed (403) with a clear message.

    A TOTP code is checked against the user's confirmed devices (django-otp refuses a replayed code and
    throttles failures); with a device, the password alone is not enough. `require_totp` (the deployment
    policy's): without a confirmed device nothing signs."""
    method = step_up_method(user=user, require_totp=require_totp)
    if method == "enrol_totp":
        raise NotAllowed(ENROL_FIRST)
    if method == "otp_token":
        token = (otp_token or "").strip()
        if not token:
            raise NotAllowed("Step-up required: this account has a TOTP device; give its current code "
                             "(otp_token).")
        devices = list(step_up_totp_devices(user=user))
        if not any(device.verify_is_allowed()[0] for device in devices):
            raise NotAllowed("Step-up refused: too many wrong TOTP codes; wait a few seconds and try again.")
        if not any(device.verify_token(token) for device in devices):
            raise NotAllowed("Step-up failed: the TOTP code is not correct (or was already used).")
        return "totp"
    if not password:
        raise NotAllowed("Step-up required: re-enter your password (password) to sign this decision.")
    if not user.check_password(password):
        raise NotAllowed("Step-up failed: the password is not correct.")
    return "password"

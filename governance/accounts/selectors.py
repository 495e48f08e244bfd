from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from governance.permissions import user_project_roles, user_roles


def user_group_names(user: AbstractBaseUser) -> list[str]:
    """The user's roles as the page header lists them: their groups (organisation-wide), then the roles they
    hold within projects; read with the roles, once a request."""
    if not user or not user.is_authenticated:
        return []
    user_roles(user)
    if getattr(user, "_group_names", None) is None:  # roles were set without the names
        user._group_names = list(user.groups.values_list("name", flat=True))
    in_projects = sorted(set().union(*user_project_roles(user).values()) - set(user._group_names))
    return [*user._group_names, *in_projects]


def totp_status(*, user) -> dict:
    """The user's TOTP enrolment: `confirmed` (a device counts for step-up), `pending` (awaiting its first
    code) and `step_up` (what signing a decision asks of them: "otp_token" or "password")."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = list(TOTPDevice.objects.filter(user=user).values_list("confirmed", flat=True))
    confirmed = any(devices)
    return {"confirmed": confirmed, "pending": not confirmed and bool(devices),
            "step_up": "otp_token" if confirmed else "password"}


def totp_provisioning(*, device) -> dict:
    """What an authenticator app needs, shown once at enrolment: the otpauth:// URL and the key in base32."""
    import base64

    return {"otpauth_url": device.config_url, "key_base32": base64.b32encode(device.bin_key).decode()}

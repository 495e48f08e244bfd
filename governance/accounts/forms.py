from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from governance.accounts.lockout import BLOCKED_MESSAGE, locked_out


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's log-in form; django-axes (its authentication backend and signal handlers, settings
    AXES_*) counts the failures per username and client address and refuses to check the password of a
    locked-out pair. A locked-out attempt gets BLOCKED_MESSAGE instead of "wrong password"."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if locked_out(self.request):
                raise ValidationError(BLOCKED_MESSAGE, code="throttled") from None
            raise

    @property
    def throttled(self) -> bool:
        return any(e.code == "throttled" for e in self.errors.as_data().get("__all__", []))


class TotpEnrolForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, required=False,
                               help_text="Re-enter your password to add a device (single sign-on accounts: "
                                         "leave it empty within a few minutes of signing in).")


class TotpConfirmForm(forms.Form):
    token = forms.CharField(label="Code from the app", max_length=10,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from governance.accounts.login_throttle import BLOCKED_MESSAGE, login_blocked, login_failed, login_succeeded


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's log-in form, refusing to check passwords after too many failures (login_throttle)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if login_blocked(self.request, username):
            raise ValidationError(BLOCKED_MESSAGE, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            login_failed(self.request, username)
            raise
        login_succeeded(self.request, username)
        return cleaned

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

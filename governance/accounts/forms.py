from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from governance.accounts.login_throttle import BLOCKED_MESSAGE, login_blocked, login_failed, login_succeeded
from governance.roles import LABELS, PROJECT_ROLES


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
    password = forms.CharField(widget=forms.PasswordInput, help_text="Re-enter your password to add a device.")


class TotpConfirmForm(forms.Form):
    token = forms.CharField(label="Code from the app", max_length=10,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=60, required=False, help_text="Made from the name if blank.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class MembershipForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[(r, LABELS[r]) for r in PROJECT_ROLES])
    remove = forms.BooleanField(required=False, help_text="Take the role away instead of giving it.")

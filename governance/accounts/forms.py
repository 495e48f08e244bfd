from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from governance.accounts.lockout import BLOCKED_MESSAGE, locked_out
from governance.roles import LABELS, PROJECT_ROLES


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


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=60, required=False, help_text="Made from the name if blank.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class MembershipForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[(r, LABELS[r]) for r in PROJECT_ROLES])
    remove = forms.BooleanField(required=False, help_text="Take the role away instead of giving it.")

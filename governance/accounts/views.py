from __future__ import annotations

from django.contrib.auth import views as auth_views

from governance.accounts.forms import ThrottledAuthenticationForm


class LoginView(auth_views.LoginView):
    """Django's log-in view with failed-login throttling; a throttled attempt answers 429."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response

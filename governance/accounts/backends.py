"""django-axes' lockout check as the first authentication backend.

Every web log-in (the log-in page, POST /api/auth/token/) passes its request to authenticate(), and axes
refuses a locked-out username and address pair there. A call without a request (Django's test client
login(), a shell) is no web log-in: it has no client address to count against, so it is not checked,
instead of axes' error for a missing request.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

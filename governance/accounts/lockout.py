"""What a locked-out log-in gets (django-axes' AXES_LOCKOUT_CALLABLE): 429 with one message everywhere.

The log-in page answers a locked-out attempt itself (the form shows BLOCKED_MESSAGE, status 429: see
views.LoginView); axes' middleware then keeps that page. Any other path that axes flags gets the message.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

BLOCKED_MESSAGE = "Too many failed log-ins. Wait a few minutes before trying again."


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    if original_response is not None and original_response.status_code == 429:
        return original_response
    if "json" in request.META.get("HTTP_ACCEPT", "") or request.path.startswith("/api/"):
        return JsonResponse({"non_field_errors": [BLOCKED_MESSAGE]}, status=429)
    return HttpResponse(BLOCKED_MESSAGE, status=429, content_type="text/plain; charset=utf-8")


def locked_out(request) -> bool:
    """Whether django-axes flagged this request (a DRF Request keeps the flag on itself)."""
    return bool(getattr(request, "axes_locked_out", False))

"""DRF exception handler: domain errors and core input errors become 4xx with a field message."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from governance.errors import DomainError
from models_core.errors import CoreError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, CoreError):
        return Response({"non_field_errors": [str(exc)]}, status=400)
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """Django's 404 handler: JSON (`{"detail": ...}`, as DRF answers) for a path under /api/ that matches no
    route, e.g. `/api/audits/abc/`; the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)

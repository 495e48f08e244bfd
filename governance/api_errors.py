"""DRF exception handler: domain errors and core input errors become 4xx with a field message."""

from __future__ import annotations

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

"""Runs a service for an HTML form, turning domain errors into form errors (never a 500)."""

from __future__ import annotations

from django import forms

from governance.errors import DomainError
from models_core.errors import CoreError


def call_service(form: forms.Form, service, **kwargs):
    """Return the service's result, or None after adding the error to `form` at the field it names."""
    try:
        return service(**kwargs)
    except DomainError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.message)
    except CoreError as exc:
        form.add_error(None, str(exc))
    return None

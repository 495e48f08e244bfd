"""The one small hierarchy of domain errors that services raise.

Views turn them into form errors, the API into 400/403/404/409 responses with a field message.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the action. `field` names the input at fault, when one is."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {self.field or "non_field_errors": [self.message]}


class ValidationFailed(DomainError):
    status_code = 400


class NotAllowed(DomainError):
    status_code = 403


class InvalidState(DomainError):
    status_code = 409


class NotFound(DomainError):
    status_code = 404

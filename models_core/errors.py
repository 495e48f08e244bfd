"""Domain errors raised by models_core. The worker turns them into failed jobs with a readable reason."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error models_core raises on purpose."""


class ArtifactError(CoreError):
    """A model artifact or checkpoint is missing, malformed, unsafe, or fails its digest check."""


class InputError(CoreError):
    """Caller-supplied data or configuration is invalid (empty texts, bad labels, bad options)."""

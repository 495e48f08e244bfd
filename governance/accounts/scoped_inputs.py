"""Input serializers whose related fields offer only the objects of the projects the caller sees.

A subclass names, in `scoped_fields`, each PrimaryKeyRelatedField and the selector giving its choices for a
user; another project's id then fails validation as "does not exist" (400), like an id that is not there.
Built without `user` (drf-spectacular's schema), the choices stay empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.db.models import QuerySet
from rest_framework import serializers


class ScopedInput(serializers.Serializer):
    scoped_fields: ClassVar[dict[str, Callable[..., QuerySet]]] = {}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            for name, choices in self.scoped_fields.items():
                self.fields[name].queryset = choices(user=user)

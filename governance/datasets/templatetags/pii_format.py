"""`{{ text|pii_masked }}`: a dataset text with the personal data the PII scan finds masked ([PERSON], ...)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pii_masked(text):
    from models_core.pii import mask_text

    return mask_text(text)

"""DRF's CharField turns a JSON number into a string ("controller_contact": 5 → "5"): a request the schema forbids
(`type: string`) would be accepted. `char_fields_refuse_numbers()` (called once, from dashboard.apps) makes every
CharField (and its subclasses: RegexField, EmailField, URLField, SlugField, ...) refuse what is not a string with
DRF's own "Not a valid string." (400). Form bodies carry strings only, so they are unaffected."""

from __future__ import annotations

from rest_framework import fields, serializers


def char_fields_refuse_numbers() -> None:
    if getattr(fields.CharField.to_internal_value, "refuses_numbers", False):
        return
    lenient = fields.CharField.to_internal_value

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return lenient(self, data)

    to_internal_value.refuses_numbers = True
    fields.CharField.to_internal_value = to_internal_value


WHITE = r"\s\x1c-\x1f"  # what str.strip() removes: regex white space and U+001C to U+001F


def text_at_least(min_chars: int, *, message: str, **kwargs) -> serializers.RegexField:
    """A free text of at least `min_chars` characters once trimmed, the rule a service checks, said in the schema
    (a pattern) and checked here with the service's message."""
    pattern = (f"^[{WHITE}]*[^{WHITE}\\x00][^\\x00]{{{max(min_chars - 2, 0)},}}[^{WHITE}\\x00][{WHITE}]*$")
    return serializers.RegexField(pattern, trim_whitespace=False, error_messages={"invalid": message}, **kwargs)

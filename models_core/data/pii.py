"""Personal-data scanning and pseudonymisation moved to the `models_core.pii` package (Presidio
recognizers, names and places); this module keeps the old import path for `data.quality` and callers."""

from models_core.pii import *  # noqa: F401,F403
from models_core.pii import __all__  # noqa: F401

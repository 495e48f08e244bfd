"""Production: everything secret or host-specific comes from the environment; passes check --deploy."""

from .base import *  # noqa: F401,F403
from .base import CELERY_BROKER_URL, REST_FRAMEWORK, env_bool

import os
import re

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to at least 50 random characters in production.")
DEBUG = False
# The audit log's Ed25519 key (checkpoints and entry seals) comes from the secret store, the same on every
# machine; no machine may generate its own key file (keys nobody pinned would sign).
if not re.fullmatch(r"[0-9a-fA-F]{64}", os.environ.get("AUDIT_SIGNING_KEY", "").strip()):
    raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be set in production: the 32-byte Ed25519 seed as 64 hex "
                               "characters, the same on every machine (python -c 'import secrets; "
                               "print(secrets.token_hex(32))').")
AUDIT_SIGNING_KEY_FILE = None
# The compliance salt (governance/keys.py) likewise: from the secret store, never generated, never SECRET_KEY
# (rotating SECRET_KEY must leave subject hashes, and so erasure certificates' subjects, unchanged).
COMPLIANCE_SUBJECT_SALT = os.environ.get("COMPLIANCE_SUBJECT_SALT", "").strip()
if len(COMPLIANCE_SUBJECT_SALT) < 32 or COMPLIANCE_SUBJECT_SALT == SECRET_KEY:
    raise ImproperlyConfigured("COMPLIANCE_SUBJECT_SALT must be set in production: at least 32 random characters, "
                               "the same on every machine and not the SECRET_KEY (python -c 'import secrets; "
                               "print(secrets.token_hex(32))'). A deployment that relied on the old fallback "
                               "keeps its subject hashes by setting it to the former SECRET_KEY once.")
COMPLIANCE_SUBJECT_SALT_FILE = None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Throttles and the failed-login counters must be shared by every web process: a Redis cache.
# Django's Redis backend, keeping its client instead of rebuilding it on every call (governance/redis_cache.py).
CACHES = {"default": {"BACKEND": "governance.redis_cache.RedisCache",
                      "LOCATION": os.environ.get("CACHE_URL", CELERY_BROKER_URL)}}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # DRF's throttles counted in constant time (governance/throttling.py): same rates, keys and 429s.
    "DEFAULT_THROTTLE_CLASSES": ["governance.throttling.AnonRateThrottle", "governance.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_THROTTLE_ANON", "30/min"),
                               "user": os.environ.get("API_THROTTLE_USER", "1200/min")},
}
# At most 200 form fields in one request (Django refuses more with a 400).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
# Sessions read from the cache, written through to the database: one query less on every page.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

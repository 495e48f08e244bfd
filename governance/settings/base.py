"""Settings shared by every environment; each value that differs comes from the environment."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("GOVERNANCE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "governance.auditlog",
    "governance.accounts",
    "governance.jobs",
    "governance.datasets",
    "governance.registry",
    "governance.audits",
    "governance.approvals",
    "governance.serving",
    "governance.compliance",
    "governance.dashboard",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "rules",  # object permissions: governance/accounts/predicates.py
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a log-in axes locked out into its 429
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "governance.accounts.context_processors.roles",
            ],
        },
    },
]

_sqlite_default = f"sqlite:///{VAR_DIR / 'governance.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _sqlite_default), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The demo's in-process worker writes from a thread while requests read: WAL + a busy timeout.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Model artifacts across machines (governance/registry/artifact_store.py): with ARTIFACT_S3_BUCKET set,
# workers publish each artifact to an S3-compatible bucket through django-storages and fetch it on demand.
ARTIFACT_STORAGE = ""
if os.environ.get("ARTIFACT_S3_BUCKET"):
    ARTIFACT_STORAGE = "artifacts"
    STORAGES["artifacts"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": os.environ["ARTIFACT_S3_BUCKET"],
        "endpoint_url": os.environ.get("ARTIFACT_S3_ENDPOINT_URL") or None,  # MinIO, Ceph, R2, ...
        "region_name": os.environ.get("ARTIFACT_S3_REGION") or None,
        "access_key": os.environ.get("ARTIFACT_S3_ACCESS_KEY_ID") or None,  # else the default AWS chain
        "secret_key": os.environ.get("ARTIFACT_S3_SECRET_ACCESS_KEY") or None,
        "file_overwrite": True, "default_acl": None, "querystring_auth": True}}

# Local accounts (break-glass administrators) always sign in with a password; single sign-on (OpenID Connect,
# mozilla-django-oidc: governance/accounts/oidc.py) is on when OIDC_RP_CLIENT_ID and the provider's endpoints are
# set, and the log-in page then offers "Sign in with OIDC_PROVIDER_NAME".
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
# Either the provider's discovery document (".../.well-known/openid-configuration"), or its endpoints one by one
# (an endpoint set here wins over the discovered one).
OIDC_OP_DISCOVERY_URL = os.environ.get("OIDC_OP_DISCOVERY_URL", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")  # when set, an ID token from another issuer is refused
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile groups")
OIDC_USE_PKCE = True
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")  # falls back to "sub"
# The claim listing the user's groups at the provider, and how its values become roles: "<prefix><role>" is an
# org-wide role (roles.py), "<prefix>project:<slug>:<role>" a project membership (accounts.signals). OIDC_ROLE_MAP
# (JSON, claim value -> role) replaces the "<prefix><role>" names, e.g. {"ad-model-risk": "reviewer"}.
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_PREFIX = os.environ.get("OIDC_GROUP_PREFIX", "governance:")
OIDC_ROLE_MAP = json.loads(os.environ.get("OIDC_ROLE_MAP") or "{}")
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT_S", 10))
# An SSO account (no password) may enrol a TOTP device this long after signing in at the provider.
OIDC_FRESH_SIGN_IN_S = int(os.environ.get("OIDC_FRESH_SIGN_IN_S", 300))
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"

LOGIN_URL = "login"
# The client's address: REMOTE_ADDR, or behind this many reverse proxies of ours the entry that the
# outermost one appended to X-Forwarded-For (governance/client_address.py). Never more than the
# proxies really in front: each extra count lets a client choose its address with a forged header.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", 0))
# Failed-login lockout: django-axes, counting failures per username *and* client address (one address cannot
# lock a user out everywhere), in the default cache (Redis in production); LOGIN_FAILURE_LIMIT failures lock
# the pair out for LOGIN_FAILURE_WINDOW_S. The log-in page and POST /api/auth/token/ answer 429.
# axes' lockout check first; passwords, then single sign-on (governance/accounts/oidc.py); object permissions
# (a project's objects) from django-rules' predicates (governance/accounts/predicates.py).
AUTHENTICATION_BACKENDS = ["governance.accounts.backends.LockoutBackend",
                           "django.contrib.auth.backends.ModelBackend",
                           "governance.accounts.oidc.GovernanceOIDCBackend",
                           "rules.permissions.ObjectPermissionBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(seconds=int(os.environ.get("LOGIN_FAILURE_WINDOW_S", 15 * 60)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "governance.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "governance.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Log-in attempts per client address across usernames (governance.throttling.LoginRateThrottle): 429 above it.
LOGIN_RATE_PER_ADDRESS = os.environ.get("LOGIN_RATE_PER_ADDRESS", "30/min")
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Uploads: datasets up to 50 MB, streamed to disk above 2.5 MB. governance.uploads.UploadGuard judges each
# multipart body first: who may upload to that view (else 403 before the body is read) and how much is read.
FILE_UPLOAD_HANDLERS = ["governance.uploads.UploadGuard",
                        "django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "django.core.files.uploadhandler.TemporaryFileUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATASET_UPLOAD_MAX_BYTES = int(os.environ.get("DATASET_UPLOAD_MAX_BYTES", 50 * 1024 * 1024))
# Larger files go in chunks (POST /api/dataset-uploads/, then .../chunks/?offset=N; the upload page does it): written
# to DATASET_UPLOAD_ROOT (a folder the web processes and the workers share), parsed and COPY-loaded by a worker.
DATASET_LARGE_UPLOAD_MAX_BYTES = int(os.environ.get("DATASET_LARGE_UPLOAD_MAX_BYTES", 4 * 1024**3))
DATASET_UPLOAD_CHUNK_MAX_BYTES = int(os.environ.get("DATASET_UPLOAD_CHUNK_MAX_BYTES", 16 * 1024 * 1024))
DATASET_UPLOAD_CHUNK_BYTES = int(os.environ.get("DATASET_UPLOAD_CHUNK_BYTES", 8 * 1024 * 1024))  # the page's
DATASET_UPLOAD_ROOT = Path(os.environ.get("DATASET_UPLOAD_ROOT", BASE_DIR / "var" / "dataset-uploads"))
# A version with more rows gets no automatic datasheet or PII scan (each reads every row into memory at once).
DATASET_AUTO_ANALYSIS_MAX_ROWS = int(os.environ.get("DATASET_AUTO_ANALYSIS_MAX_ROWS", 250_000))
# The longest line a dataset file (CSV or JSON Lines) may have, in characters: longer is a 400 naming the line.
DATASET_MAX_LINE_CHARS = int(os.environ.get("DATASET_MAX_LINE_CHARS", 100_000))
# A zipped Hugging Face encoder folder (registry.services.pretrained_encoder_register); streamed to disk.
PRETRAINED_UPLOAD_MAX_BYTES = int(os.environ.get("PRETRAINED_UPLOAD_MAX_BYTES", 500 * 1024 * 1024))
# External classifiers (a zipped Hugging Face …ForSequenceClassification folder, governance/registry/imports.py).
MODEL_IMPORT_MAX_BYTES = int(os.environ.get("MODEL_IMPORT_MAX_BYTES", 1024 * 1024 * 1024))
MODEL_IMPORT_MAX_LENGTH = int(os.environ.get("MODEL_IMPORT_MAX_LENGTH", 128))

REST_FRAMEWORK = {
    # Token first: its `WWW-Authenticate: Token` header makes an unauthenticated request a 401 (DRF answers 403 when
    # the first class has no such header); the browser's session still authenticates, CSRF-checked.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies (the JSON parser turns a too deeply nested body into a 400: governance/api_parsers.py); the
    # uploads (datasets, pretrained encoders) and the token log-in also take forms (their views).
    "DEFAULT_PARSER_CLASSES": ["governance.api_parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "governance.api_lists.ListPagination",  # ?page= and ?page_size=
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "governance.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["governance.throttling.UserRateThrottle"],
    # The throttles' client address: REMOTE_ADDR, or behind our proxies the one the outermost appended to
    # X-Forwarded-For; left unset, DRF would take a client's own X-Forwarded-For as its address.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_THROTTLE_USER", "6000/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Model Governance API",
    "DESCRIPTION": "Models, datasets, audits, deployment approvals and compliance records.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Each operation's error responses (400, 401, 403, 404, 409, 415, 429 as they apply) with the error body.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "governance.api_schema.error_responses"],
    # Several models have a `status` field with their own choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ModelVersionStatusEnum": "governance.registry.choices.VersionStatus",
        "AuditStatusEnum": "governance.audits.models.AuditStatus",
        "DeploymentRequestStatusEnum": "governance.approvals.models.RequestStatus",
        "SubjectRequestKindEnum": "governance.compliance.models.RequestKind",
        "ModelKindEnum": "governance.registry.choices.ModelKind",
        "DeploymentKindEnum": "governance.registry.models.DeploymentKind",
    },
}

# Celery: the app reads every CELERY_* setting (governance/jobs/celery_app.py).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis re-delivers an unacknowledged message once its visibility timeout passes (its worker vanished
# without rejecting it: SIGKILL, power loss). A task must therefore finish, or be killed by its hard time
# limit, well before that, or a live task would be delivered twice.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT_S", 60 * 60))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT_S", CELERY_TASK_TIME_LIMIT * 11 // 12))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_S", 2 * 60 * 60)),
    "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL_S", 10)),
    "unacked_restore_throttle": 1,
}
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]:
    raise ValueError("Celery limits must satisfy soft time limit < time limit < broker visibility timeout.")
# A worker that loses the broker connection stops its running tasks (they are redelivered), instead of
# finishing work whose acknowledgement can no longer reach the broker.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Stopping a worker (a deploy, a scale-down: SIGTERM) with REMAP_SIGTERM=SIGQUIT in the worker's environment
# (billiard reads it before any setting loads) is Celery's soft shutdown: running tasks get this many seconds
# to finish, then the rest are cancelled and, unacknowledged (late ack), restored to the queue at once for
# another worker, instead of a long job holding the deploy for up to its hard time limit. Keep it below the
# orchestrator's kill deadline (Kubernetes' terminationGracePeriodSeconds, 30 s by default). An idle worker
# waits too, as Celery advises when ETA messages (our retry backoff) may be held; ..._ON_IDLE=0 skips that.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(os.environ.get("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT_S", 20))
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = env_bool("CELERY_WORKER_SOFT_SHUTDOWN_ON_IDLE", True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "governance.train_model_version": {"queue": "gpu"},
    "governance.run_audit": {"queue": "gpu"},
    "governance.mitigate_model_version": {"queue": "gpu"},
    "governance.requeue_stale_jobs": {"queue": "default"},
    "governance.audit_log_checkpoint": {"queue": "default"},
    "governance.deliver_webhook": {"queue": "default"},
    "governance.run_monitoring": {"queue": "default"},
    "governance.monitoring_schedule": {"queue": "default"},
    "governance.flush_decisions": {"queue": "default"},
    "governance.decisions_retention": {"queue": "default"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# "thread" runs each job in a thread of this process (the demo's in-process worker); "celery" sends
# it to the broker for `celery -A workers worker` processes.
JOB_DISPATCH = os.environ.get("JOB_DISPATCH", "celery")
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", 3))
# Attempts cut short by a worker shutting down do not count toward JOB_MAX_ATTEMPTS, up to this many per job.
JOB_MAX_HANDED_BACK = int(os.environ.get("JOB_MAX_HANDED_BACK", 10))
# A running job whose heartbeat is older than this is taken for stranded by a dead worker and re-sent by
# the periodic sweep (every JOB_SWEEP_INTERVAL_S). Longer than any job's longest silent stretch.
JOB_STALE_AFTER_S = int(os.environ.get("JOB_STALE_AFTER_S", 15 * 60))
JOB_SWEEP_INTERVAL_S = int(os.environ.get("JOB_SWEEP_INTERVAL_S", 60))

# Training defaults (a frozen MiniLM encoder with a trained head is quick on CPU).
TRAINING_DEFAULTS = {"encoder": "pretrained", "freeze_encoder": True, "epochs": 8, "seed": 0}

# Fairness rules every audit judges (models_core.fairness.rules.evaluate_thresholds; copied into each audit's
# config). "upper" compares the top of the bootstrap interval: a gap passes only when its whole interval
# lies under the bound.
FAIRNESS_DEFAULT_RULES = [
    {"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1, "judge_on": "upper"},
    {"metric": "equalized_odds_difference", "grouping": "*", "max": 0.2, "judge_on": "upper"},
]

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "governance@localhost")

# Audit log: Ed25519 checkpoint signing key (AUDIT_SIGNING_KEY env var as a hex seed, else this file,
# generated on first use), where signed checkpoints are written out, and how often (celery beat).
AUDIT_SIGNING_KEY_FILE = Path(os.environ.get("AUDIT_SIGNING_KEY_FILE", VAR_DIR / "keys" / "audit-log-ed25519.key"))
AUDIT_CHECKPOINT_DIR = Path(os.environ.get("AUDIT_CHECKPOINT_DIR", VAR_DIR / "audit-checkpoints"))
AUDIT_CHECKPOINT_INTERVAL_S = int(os.environ.get("AUDIT_CHECKPOINT_INTERVAL_S", 3600))
# Shared write-once storage for signed checkpoints (governance/auditlog/storage.py, s3.py): an S3 bucket created
# with Object Lock (MinIO locally); each checkpoint is kept AUDIT_CHECKPOINT_RETENTION_DAYS in COMPLIANCE mode.
if os.environ.get("AUDIT_CHECKPOINT_S3_BUCKET"):
    STORAGES["audit_checkpoints"] = {"BACKEND": "governance.auditlog.s3.WriteOnceS3Storage", "OPTIONS": {
        "bucket_name": os.environ["AUDIT_CHECKPOINT_S3_BUCKET"],
        "endpoint_url": os.environ.get("AUDIT_CHECKPOINT_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AUDIT_CHECKPOINT_S3_REGION") or None,
        "access_key": os.environ.get("AUDIT_CHECKPOINT_S3_ACCESS_KEY_ID") or None,  # else the default AWS chain
        "secret_key": os.environ.get("AUDIT_CHECKPOINT_S3_SECRET_ACCESS_KEY") or None,
        "retention_days": int(os.environ.get("AUDIT_CHECKPOINT_RETENTION_DAYS", 3650)),
        "lock_mode": os.environ.get("AUDIT_CHECKPOINT_LOCK_MODE", "COMPLIANCE")}}
# The compliance salt keying subject hashes, pseudonymisation tokens and the log's free-text digests
# (governance/keys.py): COMPLIANCE_SUBJECT_SALT, else this file, generated on first use. Never SECRET_KEY.
COMPLIANCE_SUBJECT_SALT = os.environ.get("COMPLIANCE_SUBJECT_SALT", "")
COMPLIANCE_SUBJECT_SALT_FILE = Path(os.environ.get("COMPLIANCE_SUBJECT_SALT_FILE",
                                                   VAR_DIR / "keys" / "compliance-subject-salt"))
# Deployment-approval webhooks: attempts (exponential backoff between them) and the per-call timeout.
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", 5))
WEBHOOK_TIMEOUT_S = float(os.environ.get("WEBHOOK_TIMEOUT_S", 10))
# Webhooks reach public addresses only (governance/approvals/webhook_http.py); an internal receiver's network
# must be listed here (CIDRs, comma-separated: "10.20.0.0/16,fd00:1::/64").
WEBHOOK_ALLOWED_NETWORKS = [n.strip() for n in os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()]

# Serving (governance/serving/, the process governance/serving_wsgi.py): the decision log's write-ahead queue
# (a Redis list; default the broker's Redis), how often the serving process looks for deployment changes and
# flushes the queue to PostgreSQL, after how long a batch claimed by a dead flusher is written again, and how
# many forward passes a serving process runs at once.
SERVING_QUEUE_URL = os.environ.get("SERVING_QUEUE_URL") or CELERY_BROKER_URL
SERVING_POLL_S = float(os.environ.get("SERVING_POLL_S", 1.0))
SERVING_FLUSH_INTERVAL_S = float(os.environ.get("SERVING_FLUSH_INTERVAL_S", 0.5))
SERVING_RECOVER_AFTER_S = float(os.environ.get("SERVING_RECOVER_AFTER_S", 60))
SERVING_INFERENCE_SLOTS = int(os.environ.get("SERVING_INFERENCE_SLOTS", 1))
SERVING_TORCH_THREADS = int(os.environ.get("SERVING_TORCH_THREADS", 0))  # 0: torch's default (one per core)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

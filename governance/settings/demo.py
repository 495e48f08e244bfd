"""The embedded default: SQLite file, jobs run in a thread of the web process, console e-mail."""

from .base import *  # noqa: F401,F403
from .base import env_bool

import os

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "demo-only-insecure-key-never-use-in-production"
JOB_DISPATCH = os.environ.get("JOB_DISPATCH", "thread")
# django-axes counts failed log-ins in the default cache: the demo's one process keeps them in local memory.
SILENCED_SYSTEM_CHECKS = ["axes.W001"]

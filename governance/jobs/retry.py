"""What counts as a transient failure of a job, and how a task backs off before trying again.

A transient error is one where the same work, repeated a little later, can succeed: the database or the
broker went away for a moment. Services let these escape (instead of recording the job as failed) so the
task retries with exponential backoff; every other exception is a real failure of the job.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, BrokerOperationalError)

# Backoff: 2 s, 4 s, 8 s, ... capped at 5 minutes, with full jitter; five retries in all.
RETRY_BACKOFF_S = 2
RETRY_BACKOFF_MAX_S = 300
MAX_RETRIES = 5

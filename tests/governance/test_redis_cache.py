"""Production's cache backend (governance/redis_cache.py): Django's Redis cache, keeping its client."""

from __future__ import annotations

import uuid

from django.conf import settings

from governance.redis_cache import RedisCache


def test_the_redis_cache_reuses_one_client_and_still_reads_and_writes():
    cache = RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
    cache.set("k", {"v": 1}, 30)
    assert cache.get("k") == {"v": 1} and cache.get_many(["k", "missing"]) == {"k": {"v": 1}}
    cache.delete("k")
    assert cache.get("k") is None

"""Django's Redis cache backend, keeping one client per connection pool (production's CACHES).

Django's RedisCacheClient builds a new ``redis.Redis`` for every cache call, and redis-py fills a few hundred
response callbacks into each new client: about a third of a millisecond of CPU per call, two to three calls
on every page (the session, the API throttle, the report's sections). A client is a thread-safe handle on
its pool, so one per pool does the same work without the rebuilding.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

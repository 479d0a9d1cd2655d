"""What the ingest's replicas remember together, in Redis: events confirmed, events in flight.

Each key is ``<prefix><webhook id> <event id>``. A claim is the replica's token with a lease (so a
replica that dies mid-publish holds nothing for long), a confirmed event is ``done`` for 25 h.
Claiming is one Lua script, so two replicas can never both claim an event. Every call has a
short timeout and turns any Redis failure into ``SharedMemoryDown``: the ingest then goes on with
its own memory, and no delivery fails or waits for Redis.
"""

import logging
import time
from collections.abc import Awaitable
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from taskhook.application.dedup import Claim, SharedMemoryDown

log = logging.getLogger(__name__)

KEY_PREFIX = "taskhook:dedup:"
# Redis answers in well under a millisecond; past this, a delivery goes on without it.
TIMEOUT_S = 0.25
# One warning per this many seconds while Redis is failing, not one per delivery.
WARN_EVERY_S = 30.0
DONE = "done"

_CLAIM = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'claimed'
end
if held == 'done' then return 'done' end
return 'busy'
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def key_prefix(exchange: str) -> str:
    """Keys named for the exchange: two deployments sharing a Redis never share events."""
    return f"{KEY_PREFIX}{exchange}:"


class RedisMemory:
    """``SharedMemory`` in Redis at ``url``; connects on first use, never at construction."""

    def __init__(self, url: str, *, prefix: str = KEY_PREFIX) -> None:
        self._client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S,
            decode_responses=True,
        )
        self._prefix = prefix
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._warned_at = 0.0

    async def claim(self, key: str, token: str, lease_s: float) -> Claim:
        lease_ms = int(lease_s * 1000)
        answer = await self._call(self._claim(keys=[self._key(key)], args=[token, lease_ms]))
        return Claim(answer)

    async def confirm(self, key: str, remember_s: float) -> None:
        await self._call(self._client.set(self._key(key), DONE, ex=int(remember_s)))

    async def release(self, key: str, token: str) -> None:
        await self._call(self._release(keys=[self._key(key)], args=[token]))

    async def close(self) -> None:
        await self._client.aclose()

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    async def _call(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except (RedisError, OSError) as e:  # a timeout is an OSError too
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                log.warning("shared dedup memory unavailable", extra={"error": type(e).__name__})
            raise SharedMemoryDown(type(e).__name__) from None

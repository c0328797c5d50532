"""Unit tests of api.ttl_cache.TtlCache on a hand-moved clock (no sleeping, no services)."""

from __future__ import annotations

import asyncio

import pytest

from api.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loads:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(0)  # let other callers in while it loads
        return self.calls


async def test_a_value_is_kept_for_the_ttl_with_its_age_then_loaded_again() -> None:
    clock, load = Clock(), Loads()
    cache = TtlCache[int](1.0, clock=clock)
    assert await cache.get(load) == (1, 0.0)
    clock.now += 0.4
    value, age = await cache.get(load)
    assert value == 1 and age == pytest.approx(0.4)
    clock.now += 0.6  # exactly the TTL: expired
    assert await cache.get(load) == (2, 0.0)
    assert load.calls == 2


async def test_concurrent_callers_of_an_expired_value_share_one_load() -> None:
    load = Loads()
    cache = TtlCache[int](1.0, clock=Clock())
    results = await asyncio.gather(*(cache.get(load) for _ in range(10)))
    assert load.calls == 1 and {value for value, _ in results} == {1}


async def test_a_failed_load_is_not_kept_and_clear_forgets_the_value() -> None:
    cache = TtlCache[int](1.0, clock=Clock())

    async def broken() -> int:
        raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        await cache.get(broken)
    load = Loads()
    assert await cache.get(load) == (1, 0.0)
    cache.clear()
    assert await cache.get(load) == (2, 0.0)

"""The API's one in-memory LRU registry: bounds, eviction order, idle expiry and the drop hook."""

from __future__ import annotations

import time

from api.registry import LruRegistry


def test_least_recently_used_goes_first():
    dropped = []
    reg: LruRegistry[str, int] = LruRegistry(2, on_drop=dropped.append)
    reg.put("a", 1)
    reg.put("b", 2)
    assert reg.get("a") == 1  # "b" is now the least recently used
    reg.put("c", 3)
    assert dropped == [2]
    assert "b" not in reg and reg.get("b") is None
    assert reg.values() == [1, 3]
    reg.put("a", 10)  # replacing makes it the most recent, without dropping anything
    assert dropped == [2] and reg.values() == [3, 10] and len(reg) == 2


def test_contains_and_find_keep_the_order():
    reg: LruRegistry[str, int] = LruRegistry(2)
    reg.put("a", 1)
    reg.put("b", 2)
    assert "a" in reg
    assert reg.find(lambda v: v == 1) == 1
    assert reg.find(lambda v: v > 5) is None
    reg.put("c", 3)  # "a" was still the least recently used
    assert reg.values() == [2, 3]


def test_pop_calls_the_hook_once():
    dropped = []
    reg: LruRegistry[str, int] = LruRegistry(4, on_drop=dropped.append)
    reg.put("a", 1)
    assert reg.pop("a") == 1 and reg.pop("a") is None
    assert dropped == [1]


def test_idle_values_expire():
    dropped = []
    reg: LruRegistry[str, int] = LruRegistry(4, ttl_s=60.0, on_drop=dropped.append)
    reg.put("a", 1)
    reg.put("b", 2)
    now = time.time()
    reg.purge(now + 30)
    assert dropped == [] and len(reg) == 2
    reg.purge(now + 61)
    assert sorted(dropped) == [1, 2] and reg.values() == []


def test_without_ttl_nothing_expires():
    reg: LruRegistry[str, int] = LruRegistry(4)
    reg.put("a", 1)
    reg.purge(time.time() + 1e9)
    assert reg.get("a") == 1


def test_get_or_make_makes_once_and_keeps_the_bound():
    made = []

    def make(key):
        made.append(key)
        return key.upper()

    reg: LruRegistry[str, str] = LruRegistry(2)
    assert reg.get_or_make("a", lambda: make("a")) == "A"
    assert reg.get_or_make("a", lambda: make("a")) == "A"  # kept: not made again
    assert reg.get_or_make("b", lambda: make("b")) == "B"
    assert reg.get_or_make("a", lambda: make("a")) == "A"  # "b" is now the least recently used
    assert reg.get_or_make("c", lambda: make("c")) == "C"
    assert made == ["a", "b", "c"]
    assert reg.values() == ["A", "C"]

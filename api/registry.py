"""One bounded, thread-safe LRU registry for whatever the API keeps in memory.

Decoded layers, unpickled coverage runs, ratio reports, live scenarios and
full scenario runs are all kept the same way: by key, at most ``capacity`` of
them (the least recently used dropped first), optionally forgotten once
unused for ``ttl_s``, with a hook called for every value dropped (to delete
its files). Each keeper holds one :class:`LruRegistry`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["LruRegistry"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruRegistry(Generic[K, V]):
    """Values by key, bounded in count (least recently used dropped first) and optionally in idle time.

    Every method takes the registry's own lock, so that one registry may be
    shared by request threads; ``on_drop`` runs outside it.

    Parameters
    ----------
    capacity : int
        Most values kept; putting more drops the least recently used.
    ttl_s : float, optional
        Values neither put, got nor found for this long are dropped (by
        :meth:`get`, :meth:`values` and :meth:`purge`). ``None``: never.
    on_drop : callable, optional
        Called with each value dropped (evicted, expired or popped), e.g. to
        delete its files.
    """

    def __init__(self, capacity: int, ttl_s: float | None = None, on_drop: Callable[[V], None] | None = None):
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._on_drop = on_drop
        self._items: OrderedDict[K, tuple[V, float]] = OrderedDict()  # value, last used
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (replacing any), as the most recently used."""
        dropped = []
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (value, time.time())
            while len(self._items) > self.capacity:
                dropped.append(self._items.popitem(last=False)[1][0])
        self._dropped(dropped)

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used), or ``None``."""
        self.purge()
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items[key] = (entry[0], time.time())
            self._items.move_to_end(key)
            return entry[0]

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value under ``key`` (now the most recently used), or ``make()``'s, kept under ``key``.

        ``make`` runs outside the lock, so that a slow one holds up no other
        key: two callers missing the same key may both make it (the last one
        put is kept). ``make`` must not return ``None`` (read as "not kept").
        """
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def find(self, predicate: Callable[[V], bool]) -> V | None:
        """The first value ``predicate`` accepts (its idle time restarts; its place in the LRU order stays), or ``None``."""
        with self._lock:
            for key, (value, _) in self._items.items():
                if predicate(value):
                    self._items[key] = (value, time.time())
                    return value
        return None

    def pop(self, key: K) -> V | None:
        """Remove and return the value under ``key`` (``on_drop`` is called with it), or ``None``."""
        with self._lock:
            entry = self._items.pop(key, None)
        if entry is None:
            return None
        self._dropped([entry[0]])
        return entry[0]

    def values(self) -> list[V]:
        """Every value kept, least recently used first."""
        self.purge()
        with self._lock:
            return [value for value, _ in self._items.values()]

    def purge(self, now: float | None = None) -> None:
        """Drop the values unused for more than ``ttl_s`` (nothing without a TTL)."""
        if self.ttl_s is None:
            return
        now = time.time() if now is None else now
        with self._lock:
            old = [k for k, (_, used) in self._items.items() if now - used > self.ttl_s]
            dropped = [self._items.pop(k)[0] for k in old]
        self._dropped(dropped)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is kept (its place in the LRU order stays)."""
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _dropped(self, values: list[V]) -> None:
        if self._on_drop is not None:
            for value in values:
                self._on_drop(value)

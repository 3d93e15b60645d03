"""Bounded per-caller memory: an LRU of callers, and small fixed-size structures per caller (fixed windows,
rings of recent times for sliding windows, exponentially weighted moving averages).

Why bounded. The detectors run inside a long-lived process (a Lambda container, a stream consumer) fed by callers the
attacker can multiply (new API keys, new session ids). Anything keyed by caller must therefore have a cap on the
number of callers (`StateConfig.max_callers`, least recently seen evicted first), a time limit (`idle_ttl_s`, swept
as events arrive), and a cap on what each caller holds. Losing a caller's history costs a warm-up period for that
caller; growing without bound costs the whole detector.

Why event time. Windows run on the events' own timestamps, not the wall clock, so replaying a day of logs gives the
same findings as watching it live, and a batch delivered late is judged by when it happened. A caller's clock only
moves forward (`CallerState.now`), so one out-of-order event cannot reset a window.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class CallerStore(Generic[V]):
    """Per-caller state with an LRU cap and idle expiry. `get` creates missing entries with `factory`."""

    def __init__(self, factory: Callable[[], V], max_callers: int, idle_ttl_s: float) -> None:
        self._factory = factory
        self._max = max_callers
        self._ttl = idle_ttl_s
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self.evicted = 0
        """Callers forgotten so far (cap or expiry): a rising count means the cap is too small for the traffic."""

    def get(self, caller: str, now: float) -> V:
        entry = self._entries.get(caller)
        if entry is not None and now - entry[0] > self._ttl:
            entry = None  # idle too long: a stale baseline is worse than none
        value = entry[1] if entry is not None else self._factory()
        self._entries[caller] = (max(now, entry[0]) if entry is not None else now, value)
        self._entries.move_to_end(caller)
        self._evict(now)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, caller: object) -> bool:
        return caller in self._entries

    def values(self) -> list[V]:
        return [value for _, value in self._entries.values()]

    def _evict(self, now: float) -> None:
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.evicted += 1
        # The oldest entries sit at the front; stop at the first that is still fresh (amortised O(1) per event).
        while self._entries:
            caller, (seen, _) = next(iter(self._entries.items()))
            if now - seen <= self._ttl:
                break
            del self._entries[caller]
            self.evicted += 1


class FixedWindow:
    """A count in a fixed, aligned time window, plus a flag so one burst yields one finding per window."""

    __slots__ = ("start", "count", "reported")

    def __init__(self) -> None:
        self.start = -math.inf
        self.count = 0
        self.reported = False

    def add(self, now: float, width: float, amount: int = 1) -> int:
        """Count `amount` at time `now`; returns the count in the current window."""
        window_start = now - (now % width)
        if window_start > self.start:
            self.start, self.count, self.reported = window_start, 0, False
        self.count += amount
        return self.count


class RecentTimes:
    """A sliding window in bounded memory: the times of the last `capacity` occurrences, in a ring.

    "At least `capacity` occurrences within `width` seconds" is exactly "the oldest of the last `capacity` is within
    `width`", so a threshold check needs no more memory than the threshold itself. Unlike a fixed window, a burst
    that straddles a window boundary is not split in two. After a report the window stays quiet for `width`
    seconds, so one sustained campaign yields one finding per window length, not one per event."""

    __slots__ = ("times", "cursor", "quiet_until")

    def __init__(self, capacity: int) -> None:
        self.times = array("d", [-math.inf]) * capacity
        self.cursor = 0
        self.quiet_until = -math.inf

    def add(self, now: float, width: float, amount: int = 1) -> bool:
        """Record `amount` occurrences at `now`; True when the last `capacity` occurrences all fall within `width`.

        O(1): the ring holds the latest times in arrival order, so the slot about to be overwritten is the oldest.
        (A caller's clock only moves forward, see `CallerStore`; an out-of-order event can only delay a report.)"""
        times = self.times
        for _ in range(min(amount, len(times))):
            times[self.cursor] = now
            self.cursor = (self.cursor + 1) % len(times)
        return now - times[self.cursor] <= width

    def report(self, now: float, width: float) -> bool:
        """True (and start a quiet period) unless a report was made in the last `width` seconds."""
        if now < self.quiet_until:
            return False
        self.quiet_until = now + width
        return True


class Ewma:
    """Exponentially weighted mean and variance (West's incremental form): O(1) memory, recent samples weigh most."""

    __slots__ = ("n", "mean", "var")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.var = 0.0

    def update(self, value: float, alpha: float) -> None:
        self.n += 1
        if self.n == 1:
            self.mean = value
            return
        # Until about 1/alpha samples, use the plain running mean so the first samples do not dominate.
        weight = max(alpha, 1.0 / self.n)
        delta = value - self.mean
        self.mean += weight * delta
        self.var = (1 - weight) * (self.var + weight * delta * delta)

    @property
    def std(self) -> float:
        return math.sqrt(self.var)

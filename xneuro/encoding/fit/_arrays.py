"""Small array helpers shared by the fit kernels: padding to few shapes, voxel masks, caches."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

__all__ = ["LRUCache", "pad_rows", "padded_size", "usable_voxels"]


def padded_size(n: int) -> int:
    """``n`` rounded up to one of few sizes (so that few shapes are ever compiled).

    Powers of two up to 64, then multiples of an eighth of the power of two
    below: at most 1/8 of the work is padding.
    """
    n = max(int(n), 1)
    if n <= 64:
        return 1 << (n - 1).bit_length()
    step = 1 << (n.bit_length() - 4)
    return -(-n // step) * step


def pad_rows(values: np.ndarray, size: int) -> np.ndarray:
    """Pad axis 0 of ``values`` to ``size`` with copies of its first row."""
    n = values.shape[0]
    if n >= size:
        return values
    return np.concatenate([values, np.repeat(values[:1], size - n, axis=0)], axis=0)


def usable_voxels(Y: np.ndarray) -> np.ndarray:
    """Voxels (columns of a ``(T, V)`` block) with finite values and non-zero variance."""
    finite = np.isfinite(Y).all(axis=0)
    safe = np.where(finite[None, :], Y, 0.0)
    return finite & (np.ptp(safe, axis=0) > 0)


class LRUCache:
    """A small thread-safe least-recently-used cache of expensive, reusable values."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value of ``key``, made once by ``make()`` (other threads wait for it)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self._size:
                    old, _ = self._items.popitem(last=False)
                    self._key_locks.pop(old, None)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
            self._key_locks.clear()

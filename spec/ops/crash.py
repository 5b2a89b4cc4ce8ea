"""Events that are no system call: a power failure with log recovery, and a CPU evicting a
dirty cache line on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..kernel import views
from ..vocab import draft, freeze, require
from .base import Action, action


@action
@dataclass(frozen=True)
class Crash(Action):
    """Power failure followed by mount and log recovery (hook ``xlog_recover``): CPU caches
    (dirty lines not flushed), DAX entries, page tables, struct page state and
    un-journaled metadata are lost; the in-memory map and sizes are rebuilt from the
    journal and refcounts recomputed from it.  Ghost state survives; the data last written
    at each offset becomes what the recovered file holds (POSIX says nothing about data
    not synced)."""

    name: ClassVar[str] = "crash"

    def apply(self, m, s):
        L, D = m.L, m.design
        d = draft(s)
        for f, x, g in L.file_blk_segs:
            views.set_last(L, d, f, x, g, views.persisted_view(L, s, f, x, g))
        D.xlog_recover(L, d)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls()]


@action
@dataclass(frozen=True)
class Evict(Action):
    """The CPU evicts a dirty cache line of segment ``seg`` of physical block ``phys``
    on its own: the data reaches the media without any flush."""

    name: ClassVar[str] = "evict"
    phys: int
    seg: int

    def apply(self, m, s):
        L = m.L
        c = s[L.cache[self.phys][self.seg]]
        if not require(c != 0):
            return None
        d = draft(s)
        d[L.media[self.phys][self.seg]] = c
        d[L.cache[self.phys][self.seg]] = 0
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(b, g) for b in L.phys for g in L.segs]

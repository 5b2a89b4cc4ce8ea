"""The concrete executor's byte-level effects of the ``crash`` family (spec/ops/crash.py).

The family: a power failure and a cache-line eviction.

:class:`CrashOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations

from daxcheck.spec.state import STALE


class CrashOps:
    """The data effects of the crash family (mixin of ConcreteExecutor)."""

    def _do_crash(self, a, s, ns):
        self.pmem.crash()
        # POSIX promises nothing about unsynced data: what the recovered file holds is
        # the new "last write" (durability is checked on the crash images).
        for f, x in self.L.file_blks:
            data = self.read_block(ns, f, x)
            for g in self.L.segs:
                tok = (
                    0
                    if data is None
                    else self.codec.segment_token(
                        data[g * self.seg_bytes : (g + 1) * self.seg_bytes]
                    )
                )
                self.last[(f, x, g)] = STALE if tok is None else tok

    def _do_evict(self, a, s, ns):
        self.pmem.evict(self.seg_off(a.phys, a.seg), self.seg_bytes)

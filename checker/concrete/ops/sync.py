"""The concrete executor's byte-level effects of the ``sync`` family (spec/ops/sync.py).

The family: fdatasync(2), fsync(2) and msync(2).

:class:`SyncOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations


class SyncOps:
    """The data effects of the sync family (mixin of ConcreteExecutor)."""

    def _do_fsync(self, a, s, ns):
        self._do_fdatasync(a, s, ns)

    def _do_msync(self, a, s, ns):
        self._do_fdatasync(a, s, ns)

    def _do_fdatasync(self, a, s, ns):
        for x in self.L.blks:
            self._writeback_entry(s, a.file, x)

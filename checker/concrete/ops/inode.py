"""The concrete executor's byte-level effects of the ``inode`` family (spec/ops/inode.py).

The family: the per-inode DAX flag and inode eviction.

:class:`InodeOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations


class InodeOps:
    """The data effects of the inode family (mixin of ConcreteExecutor)."""

    def _do_dax_toggle(self, a, s, ns):
        pass

    def _do_evict_inode(self, a, s, ns):
        for x in self.L.blks:
            self._writeback_entry(s, a.file, x)

"""The concrete executor's byte-level effects of the ``reflink`` family (spec/ops/reflink.py).

The family: FICLONE, FICLONERANGE and FIDEDUPERANGE.

:class:`ReflinkOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations

from daxcheck.spec.state import UNWRITTEN, WRITTEN


class ReflinkOps:
    """The data effects of the reflink family (mixin of ConcreteExecutor)."""

    def _do_dedupe(self, a, s, ns):
        self._remap(s, ns, a.src, a.dst, a.soff, a.doff, a.length, inherit=False)

    def _remap(self, s, ns, src, dst, soff, doff, length, *, inherit=True):
        """xfs_reflink_remap_range: write back the source range and the destination range
        (clwb + fence of dirty entries, within ``src``'s EOF), then every destination block
        the remap replaced inherits the source block's written history.  A destination
        block left as it was (both unwritten, per the abstract map) inherits nothing."""
        L = self.L
        n = [i for i in range(length) if soff + i < s[L.size[src]]]
        for i in n:
            self._writeback_entry(s, src, soff + i)
        for i in n:
            self._writeback_entry(s, dst, doff + i)
        for i in n:
            x, y = soff + i, doff + i
            kept = (
                s[L.ext_kind[src][x]] == UNWRITTEN
                and s[L.ext_kind[dst][y]] == UNWRITTEN
                and ns[L.ext_kind[dst][y]] == UNWRITTEN
                and ns[L.ext_pblk[dst][y]] == s[L.ext_pblk[dst][y]]
            )
            if not kept and inherit:
                src_written = s[L.ext_kind[src][x]] == WRITTEN
                for g in L.segs:
                    self.last[(dst, y, g)] = self.last[(src, x, g)] if src_written else 0
                for g in L.segs:
                    self.written[(dst, y, g)] |= self.written[(src, x, g)]

    def _do_reflink(self, a, s, ns):
        self._remap(s, ns, a.src, a.dst, 0, 0, len(self.L.blks))

    def _do_reflink_range(self, a, s, ns):
        self._remap(s, ns, a.src, a.dst, a.soff, a.doff, a.length)

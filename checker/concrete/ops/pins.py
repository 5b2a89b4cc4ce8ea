"""The concrete executor's byte-level effects of the ``pins`` family (spec/ops/pins.py).

The family: page pins (get_user_pages) and device DMA into pinned pages.

:class:`PinsOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations


class PinsOps:
    """The data effects of the pins family (mixin of ConcreteExecutor)."""

    def _do_pin(self, a, s, ns):
        pass

    def _do_dma(self, a, s, ns):
        """The device writes the pinned page (DMA reaches memory, cached copies dropped)."""
        self._dma_into(s, a.phys, a.token)

    def _dma_into(self, s, p, token):
        """DMA of ``token`` into pinned page ``p`` (at the file offset it was pinned
        through)."""
        L = self.L
        f, x = s[L.pin_file[p]], s[L.pin_idx[p]]
        for g in L.segs:
            self.pmem.nt_store(
                self.seg_off(p, g), self.codec.data_segment(token, f, x, g, self.step_no, "dma")
            )
            self.written[(f, x, g)].add(token)
            self.last[(f, x, g)] = token
        self.pmem.sfence()

"""The concrete executor's byte-level effects of the ``file_io`` family (spec/ops/file_io.py).

The family: write(2) and read(2).

:class:`FileIoOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations


class FileIoOps:
    """The data effects of the file io family (mixin of ConcreteExecutor)."""

    def _do_read(self, a, s, ns):
        pass

    def _do_write_short(self, a, s, ns):
        self._do_write(a, s, ns)  # a.copied(): the segments the user buffer supplied

    def _do_write(self, a, s, ns):
        segs = tuple(range(a.lo, a.hi + 1))
        self._begin_write(s, ns, a.file, a.idx, segs)
        p = ns[self.L.ext_pblk[a.file][a.idx]]
        for g in segs[: a.copied()]:  # dax_copy_from_iter -> memcpy_flushcache (movnt)
            data = self.codec.data_segment(a.token, a.file, a.idx, g, self.step_no, "write")
            if self._overrides("dax_copy_from_iter") and ns[self.L.cache[p][g]] != 0:
                self.pmem.store(self.seg_off(p, g), data)  # the override left a cached store
            else:
                self.pmem.nt_store(self.seg_off(p, g), data)
            self.written[(a.file, a.idx, g)].add(a.token)
            self.last[(a.file, a.idx, g)] = a.token
        self.pmem.sfence()

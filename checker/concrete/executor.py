"""Byte-level replay of a trace on a concrete pmem buffer, with a refinement check.

:func:`replay_concrete` runs a list of actions twice in lock-step: on the abstract model
(:meth:`DaxModel.next_state`) and on a :class:`~daxcheck.checker.pmem.PmemBuffer` through
:class:`ConcreteExecutor`, which performs each action's *data* effects with real byte
offsets (4 KiB blocks, 2 KiB segments, 64-byte lines).  The executor takes only *where*
data goes from the abstract metadata (extent maps, PTE pfns, DAX entries, which block a
write allocated, converted or copied-on-write, found by comparing the abstract pre- and
post-state metadata, never the abstract media/cache fields); *what* bytes move comes from
its own buffer: a CoW copies the old block as the CPU sees it, a store goes into the
simulated cache, write(2) and DAX zeroing are non-temporal stores, fdatasync flushes the
lines of the dirty DAX entries and fences, a crash drops what was not persisted.  The
design's data behaviour (zeroing on allocation and unwritten conversion, the CoW fill of
``srcmap`` vs ``single-iomap``) is implemented here again, at byte level.

Data patterns: token ``t`` written at (file ``f``, block ``x``, segment ``g``) fills each
64-byte line of the 2 KiB segment with a self-describing record such as
``DAXCHECK t=1 file=a blk=0 seg=1 ln=07 op=003 by=write``; token 0 is zeros; the media
starts with ``STALE-PMEM pblk=p ln=..`` records (contents from before mkfs).  The
*abstraction function* (:meth:`ConcreteExecutor.abstraction`) decodes the concrete media
and CPU view per (physical block, segment) into tokens; after every step they must equal
the abstract state's ``media``/``cache`` fields or :class:`RefinementError` names the first
diverging step and field.

After the replay, the byte-level symptom of the violated property is computed from the
concrete bytes (what read(2) and loads through each mapping return, the reverse map of
each pmem page, the bytes at a sealed physical address), and for durability properties and
every crash in the trace the crash images are enumerated (or sampled), recovered with the
abstract Crash action's metadata and checked: promised data present, no stale data.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from daxcheck.spec.ops import Crash
from daxcheck.spec.state import (HOLE, UNWRITTEN, WRITTEN, XA_PFN, PTE_NONE, PTE_RO, PTE_RW,
                                 PTE_ZERO, PTE_ANON, MM_SYNC, MM_PRIVATE, PG_NULL, PG_SHARED,
                                 ORDER_PMD, SEGS, STALE,
                                 file_name, token_name)

from .pmem import BLOCK, LINE, MAX_ENUM, PmemBuffer, PmemError
from ..trace import TraceError

SEG_BYTES = BLOCK // SEGS
"""Bytes per segment at the default two segments per block (2048); a model with
``Bounds.segs`` set uses ``BLOCK // segs`` (:attr:`ConcreteExecutor.seg_bytes`)."""
LINES_PER_SEG = SEG_BYTES // LINE
"""Cache lines per segment (32)."""
DURABILITY_PROPS = frozenset({"durable_after_sync", "no_stale_data_after_crash"})
"""Properties about what a crash leaves: checked on the crash images of a crash added at
the end of the trace."""
MAX_DETAILS = 3
"""Failing crash images described in full per crash point."""


class RefinementError(AssertionError):
    """The concrete bytes and the abstract state disagree after a step: the decoded pmem
    media or CPU cache of some (physical block, segment) differs from the abstract field.
    One-line message naming the step, the action and the field."""


# ============================================================================ patterns
@dataclass(frozen=True)
class LineInfo:
    """What one 64-byte line holds: ``kind`` "zero", "data", "stale" or "garbled";
    ``token`` the abstract token (0, 1..T, STALE; None for garbled); for data the writer's
    ``file``, ``blk``, ``seg``, ``step`` and ``via`` (write/store); for stale the ``pblk``."""

    kind: str
    token: int | None
    file: int = -1
    blk: int = -1
    seg: int = -1
    step: int = -1
    via: str = ""
    pblk: int = -1

    def describe(self) -> str:
        """English for what a reader gets from this line."""
        if self.kind == "zero":
            return "zeros"
        if self.kind == "stale":
            return "stale pmem contents (no file wrote them)"
        if self.kind == "garbled":
            return "bytes no writer produced"
        return (f"{token_name(self.token)} (file {file_name(self.file)}'s data, written at "
                f"{file_name(self.file)} block {self.blk} by {self.via} at step {self.step})")


_DATA_RE = re.compile(rb"DAXCHECK t=(\d+) file=([abc]) blk=(\d+) seg=(\d+) ln=(\d+) "
                      rb"op=(\d+) by=(\w+) *\n")
_STALE_RE = re.compile(rb"STALE-PMEM pblk=(\d+) ln=(\d+) \(contents from before mkfs\) *\n")
_ZERO_LINE = bytes(LINE)
_GARBLED = LineInfo("garbled", None)


class Codec:
    """The byte patterns of tokens and their decoding (the abstraction function's core).
    ``seg_bytes``: bytes per segment (a multiple of the 64-byte line)."""

    def __init__(self, seg_bytes: int = SEG_BYTES):
        self.seg_bytes = seg_bytes
        self._cache: dict[bytes, LineInfo] = {_ZERO_LINE: LineInfo("zero", 0)}

    @staticmethod
    def _pad(text: str) -> bytes:
        b = text.encode()
        assert len(b) < LINE
        return b.ljust(LINE - 1) + b"\n"

    def data_segment(self, t: int, f: int, x: int, g: int, step: int, via: str) -> bytes:
        """The 2048 bytes of token ``t`` written at file ``f`` block ``x`` segment ``g`` by
        ``via`` ("write"/"store") at trace step ``step``; token 0 is zeros."""
        if t == 0:
            return bytes(self.seg_bytes)
        return b"".join(self._pad(f"DAXCHECK t={t} file={file_name(f)} blk={x} seg={g} "
                                  f"ln={ln:02d} op={step:03d} by={via}")
                        for ln in range(self.seg_bytes // LINE))

    def stale_block(self, p: int) -> bytes:
        """The 4096 pre-mkfs bytes of physical block ``p``."""
        return b"".join(self._pad(f"STALE-PMEM pblk={p} ln={ln:02d} (contents from before mkfs)")
                        for ln in range(BLOCK // LINE))

    def line(self, b: bytes) -> LineInfo:
        """Decode one 64-byte line (anything unrecognised is "garbled")."""
        b = bytes(b)
        info = self._cache.get(b)
        if info is not None:
            return info
        m = _DATA_RE.fullmatch(b)
        if m:
            info = LineInfo("data", int(m[1]), "abc".index(m[2].decode()), int(m[3]),
                            int(m[4]), int(m[6]), m[7].decode())
        else:
            m = _STALE_RE.fullmatch(b)
            info = LineInfo("stale", STALE, pblk=int(m[1])) if m else _GARBLED
        if len(self._cache) < 100_000:
            self._cache[b] = info
        return info

    def lines(self, b: bytes) -> list[LineInfo]:
        """Decode consecutive 64-byte lines."""
        return [self.line(b[i:i + LINE]) for i in range(0, len(b), LINE)]

    def segment_token(self, b: bytes):
        """The token of a 2048-byte segment if all its lines decode to the same token, else
        None (torn or garbled)."""
        toks = {i.token for i in self.lines(b)}
        return toks.pop() if len(toks) == 1 else None

    def summarize(self, b: bytes) -> str:
        """Short English for a block's (or segment's) contents, per segment."""
        parts = []
        for g in range(0, len(b), self.seg_bytes):
            infos = self.lines(b[g:g + self.seg_bytes])
            kinds = {(i.kind, i.token, i.file) for i in infos}
            parts.append(infos[0].describe() if len(kinds) == 1 else "a torn mix of writes")
        if len(set(parts)) == 1:
            return parts[0]
        return "; ".join(f"segment {g}: {p}" for g, p in enumerate(parts))


@dataclass(frozen=True)
class _WriteFault:
    """The arguments of a write fault, for a split step that faults a page in."""

    proc: int
    file: int
    idx: int
    write: bool = True


def hex_excerpt(b: bytes, n: int = 16) -> str:
    """``n`` bytes as hex plus printable ASCII, e.g. ``44 41 58 |DAX|``."""
    b = bytes(b[:n])
    txt = "".join(chr(c) if 32 <= c < 127 else "." for c in b)
    return f"{b.hex(' ')} |{txt}|"


def _tok(v) -> str:
    return "torn/garbled" if v is None else token_name(v)


# ============================================================================ executor
class ConcreteExecutor:
    """Performs the data effects of the model's actions on a :class:`PmemBuffer`.

    ``model``: a :class:`~daxcheck.spec.model.DaxModel`; ``pmem``: a buffer of at least
    ``phys * 4096`` bytes (else :class:`PmemError`).  The constructor lays the pre-mkfs
    STALE pattern on the media of every physical block.  :meth:`step` applies one action
    given the abstract pre- and post-state; :meth:`check` is the refinement check.
    ``written[(f, x, g)]`` is the concrete history of tokens written (or inherited by
    reflink) at each file offset, ``last[(f, x, g)]`` the token userspace last wrote there
    (0 after zeroing; what read(2) must return), ``warned`` the kernel WARNs the spec's
    steps reached (message per step).
    """

    def __init__(self, model, pmem: PmemBuffer):
        self.m, self.L, self.D = model, model.L, model.design
        need = model.bounds.phys * BLOCK
        if pmem.size < need:
            raise PmemError(f"pmem region of {pmem.size} bytes is too small: the trace uses "
                            f"{model.bounds.phys} blocks = {need} bytes")
        self.pmem = pmem
        self.seg_bytes = BLOCK // self.L.nsegs
        self.codec = Codec(self.seg_bytes)
        self.notes = []
        self.written = {(f, x, g): set() for f, x in self.L.file_blks for g in self.L.segs}
        self.last = {(f, x, g): 0 for f, x in self.L.file_blks for g in self.L.segs}
        self.warned = []
        self.step_no = 0
        for p in self.L.phys:
            pmem.write_media(p * BLOCK, self.codec.stale_block(p))

    # ------------------------------------------------------------------ addresses
    def seg_off(self, b: int, g: int) -> int:
        """Byte offset of segment ``g`` of physical block ``b``."""
        return b * BLOCK + g * self.seg_bytes

    # ------------------------------------------------------------------ data primitives
    def _zero_block(self, b):
        """dax_zero_page_range / XFS_BMAPI_ZERO: non-temporal zeroing of the whole block,
        then a fence (pmem_clear_poison path, durable)."""
        self.pmem.nt_store(b * BLOCK, bytes(BLOCK))
        self.pmem.sfence()

    def _copy_segs(self, src, dst, segs):
        """dax_iomap_copy_around copy: coherent CPU read of ``src`` (copy_mc_to_kernel),
        non-temporal stores into ``dst``, fence."""
        for g in segs:
            self.pmem.nt_store(self.seg_off(dst, g),
                               self.pmem.load(self.seg_off(src, g), self.seg_bytes))
        self.pmem.sfence()

    def _zero_segs(self, dst, segs):
        """The zero_edge branch of dax_iomap_copy_around: non-temporal zeroing, fence."""
        for g in segs:
            self.pmem.nt_store(self.seg_off(dst, g), bytes(self.seg_bytes))
        self.pmem.sfence()

    def _writeback_entry(self, s, f, x):
        """dax_writeback_one: a dirty pfn entry's block is flushed line by line (clwb via
        dax_flush / arch_wb_cache_pmem) and fenced."""
        L = self.L
        if s[L.xa_kind[f][x]] == XA_PFN and s[L.xa_dirty[f][x]] == 1:
            self.pmem.persist(s[L.xa_pfn[f][x]] * BLOCK, BLOCK)

    def _overrides(self, *hooks) -> bool:
        """The design is a user's subclass that overrides one of ``hooks`` (data decisions
        the executor otherwise re-implements from the design's settings)."""
        from daxcheck.spec.designs import Design
        return any(getattr(type(self.D), h) is not getattr(Design, h) for h in hooks)

    def _fill(self, s, ns, src, dst, segs, fallback):
        """Fill segments ``segs`` of block ``dst`` the way the abstract step did when the
        design overrides a data hook: zeros where the spec's destination now holds 0, a copy
        of ``src`` where it holds what ``src`` held, else nothing; ``fallback()`` (the
        executor's own byte-level semantics) otherwise."""
        if not self._overrides("dax_iomap_copy_around", "xfs_zero_extent"):
            fallback()
            return
        L = self.L
        for g in segs:
            want = ns[L.media[dst][g]]
            have = s[L.cache[src][g]] or s[L.media[src][g]] if src is not None else None
            if want == 0:
                self._zero_segs(dst, [g])
            elif want == have:
                self._copy_segs(src, dst, [g])

    def _begin_write(self, s, ns, f, x, segs):
        """The data side of ->iomap_begin(IOMAP_WRITE) for ``f``/``x`` covering ``segs``
        (empty: a fault, seal or unshare, the whole block), decided from the abstract extent
        before (``s``) and after (``ns``): a hole that became written was allocated (zero
        it), an unwritten extent written in place was converted (zero it), an extent that
        moved was copied-on-write (fill the segments the write does not cover, per the
        design: ``cow``, ``cow_edges``)."""
        L = self.L
        k0, p0 = s[L.ext_kind[f][x]], s[L.ext_pblk[f][x]]
        k1, p1 = ns[L.ext_kind[f][x]], ns[L.ext_pblk[f][x]]
        if k1 != WRITTEN:
            return
        uncovered = [g for g in L.segs if g not in segs]
        if k0 == HOLE and not self._moved_by_cow(s, ns, f, x):
            self._fill(s, ns, None, p1, L.segs, lambda: self._zero_block(p1))
        elif k0 == UNWRITTEN and p1 == p0:
            self._fill(s, ns, None, p0, L.segs, lambda: self._zero_block(p0))
        elif p1 != p0 or k0 != WRITTEN:
            whole = not segs

            def own():
                if self.D.cow == "single-iomap":
                    # IOMAP_F_COW through one iomap: the source type was dropped; a
                    # whole-page fault copies raw, an unaligned write leaves the head/tail.
                    if whole:
                        self._copy_segs(p0, p1, uncovered)
                elif k0 in (HOLE, UNWRITTEN):
                    if self.D.cow_edges == "zeroed":
                        self._zero_segs(p1, uncovered)
                    elif k0 == UNWRITTEN:   # before the 2022 fix: copied raw, holes skipped
                        self._copy_segs(p0, p1, uncovered)
                else:
                    self._copy_segs(p0, p1, uncovered)
            self._fill(s, ns, p0 if k0 != HOLE else None, p1, uncovered, own)

    def _moved_by_cow(self, s, ns, f, x) -> bool:
        """The write went through the CoW fork (always_cow): the new block is not zeroed."""
        return self.D.cow_fork == "always"

    # ------------------------------------------------------------------ actions
    def step(self, a, s, ns) -> None:
        """Apply the data effects of action ``a`` taking abstract state ``s`` to ``ns``.  An
        action family without byte-level semantics here (a user's ``@action``) is replayed
        abstract-only: the concrete media and caches adopt the spec's tokens for the blocks
        it changed, and a note says so."""
        self.step_no += 1
        L = self.L
        if ns[L.warning] != s[L.warning]:
            self.warned.append(f"step {self.step_no} {a.describe()} reaches "
                               f"WARN_ON_ONCE: {L.show(L.warning, ns[L.warning])}")
        do = getattr(self, "_do_" + a.name, None)
        if do is None:
            self._adopt(a, s, ns)
            return
        do(a, s, ns)

    def _adopt(self, a, s, ns):
        """Abstract-only step: write the canonical byte pattern of every (block, segment)
        whose abstract media or cache token changed, and take the write history from the
        spec's ``ghost_written``."""
        L = self.L
        note = f"step {self.step_no} {a.describe()}: no byte-level semantics (abstract only)"
        if note not in self.notes:
            self.notes.append(note)
        owner = {}
        for f, x in L.file_blks:
            if ns[L.ext_kind[f][x]] != HOLE:
                owner.setdefault(ns[L.ext_pblk[f][x]], (f, x))
        for b in L.phys:
            f, x = owner.get(b, (0, 0))
            for g in L.segs:
                off = self.seg_off(b, g)
                m0, m1 = s[L.media[b][g]], ns[L.media[b][g]]
                c0, c1 = s[L.cache[b][g]], ns[L.cache[b][g]]
                if m1 != m0 or (c0 and not c1):
                    self.pmem.nt_store(off, self._pattern(m1, b, f, x, g))
                    self.pmem.sfence()
                if c1 and c1 != c0:
                    self.pmem.store(off, self._pattern(c1, b, f, x, g))
        for f, x in L.file_blks:
            for g in L.segs:
                self.written[(f, x, g)] = {t for t in L.toks
                                           if ns[L.ghost_written[f][x][g][t - 1]] == 1}
                self.last[(f, x, g)] = ns[L.ghost_last[f][x][g]]

    def _pattern(self, t, b, f, x, g):
        """The bytes of token ``t`` for segment ``g`` of block ``b`` (written at ``f``/``x``)."""
        if t == STALE:
            return self.codec.stale_block(b)[g * self.seg_bytes:(g + 1) * self.seg_bytes]
        return self.codec.data_segment(t, f, x, g, self.step_no, "user")

    def _do_mmap(self, a, s, ns):
        pass

    def _do_munmap(self, a, s, ns):
        pass

    def _do_mmap_private(self, a, s, ns):
        pass

    def _do_read(self, a, s, ns):
        pass

    def _do_fallocate(self, a, s, ns):
        pass  # XFS_BMAPI_PREALLOC: unwritten, not zeroed

    def _do_pmd_fault(self, a, s, ns):
        pass  # maps the huge zero page or the pages read-only: no pmem data touched

    def _do_dax_toggle(self, a, s, ns):
        pass

    def _do_pin(self, a, s, ns):
        pass

    def _synced(self, s, ns, f) -> bool:
        """The step forced the log with a change of ``f``'s journaled map or size."""
        L = self.L
        return any(s[o] != ns[o] for y in L.blks
                   for o in (L.jext_kind[f][y], L.jext_pblk[f][y])) or \
            s[L.jsize[f]] != ns[L.jsize[f]]

    def _do_fault(self, a, s, ns):
        if not a.write:
            return
        L, f, x = self.L, a.file, a.idx
        if s[L.mmap_mode[a.proc][f]] == MM_PRIVATE:
            return  # dax_fault_cow_page copies into an anonymous (DRAM) page
        self._begin_write(s, ns, f, x, ())
        # MAP_SYNC: dax_finish_sync_fault fsyncs when IOMAP_F_DIRTY (the inode's journal
        # changed in this step); its writeback sees the entry as it was unless
        # ->iomap_begin moved or converted the extent (which invalidated the entry).
        if s[L.mmap_mode[a.proc][f]] == MM_SYNC and self._synced(s, ns, f):
            same = (s[L.ext_kind[f][x]], s[L.ext_pblk[f][x]]) == \
                (ns[L.ext_kind[f][x]], ns[L.ext_pblk[f][x]])
            if same:
                self._writeback_entry(s, f, x)

    def _do_store(self, a, s, ns):
        L = self.L
        if s[L.pte_kind[a.proc][a.file][a.idx]] == PTE_ANON:
            return  # a MAP_PRIVATE anonymous page is DRAM, not pmem
        b = s[L.pte_pfn[a.proc][a.file][a.idx]]
        self.pmem.store(self.seg_off(b, a.seg),
                        self.codec.data_segment(a.token, a.file, a.idx, a.seg, self.step_no,
                                                "store"))
        self.written[(a.file, a.idx, a.seg)].add(a.token)
        self.last[(a.file, a.idx, a.seg)] = a.token

    def _do_flush(self, a, s, ns):
        b = s[self.L.pte_pfn[a.proc][a.file][a.idx]]
        self.pmem.persist(b * BLOCK, BLOCK)

    def _do_write(self, a, s, ns):
        segs = tuple(range(a.lo, a.hi + 1))
        self._begin_write(s, ns, a.file, a.idx, segs)
        p = ns[self.L.ext_pblk[a.file][a.idx]]
        for g in segs:  # dax_copy_from_iter -> memcpy_flushcache (movnt)
            data = self.codec.data_segment(a.token, a.file, a.idx, g, self.step_no, "write")
            if self._overrides("dax_copy_from_iter") and ns[self.L.cache[p][g]] != 0:
                self.pmem.store(self.seg_off(p, g), data)   # the override left a cached store
            else:
                self.pmem.nt_store(self.seg_off(p, g), data)
            self.written[(a.file, a.idx, g)].add(a.token)
            self.last[(a.file, a.idx, g)] = a.token
        self.pmem.sfence()

    def _do_seal(self, a, s, ns):
        for x in self.L.blks:
            self._begin_write(s, ns, a.file, x, ())

    def _do_unshare(self, a, s, ns):
        self._begin_write(s, ns, a.file, a.idx, ())

    def _do_zero_range(self, a, s, ns):
        L, f, x = self.L, a.file, a.idx
        segs = tuple(range(a.lo, a.hi + 1))
        self._writeback_entry(s, f, x)
        for g in segs:
            self.last[(f, x, g)] = 0
        if len(segs) == len(L.segs) or ns[L.ext_kind[f][x]] != WRITTEN:
            return  # the block became unwritten (or already read zeros): no data moves
        self._begin_write(s, ns, f, x, segs)
        self._zero_segs(ns[L.ext_pblk[f][x]], segs)   # dax_zero_iter → dax_memzero

    def _shift_written(self, f, dst, src):
        for g in self.L.segs:
            self.written[(f, dst, g)] |= self.written[(f, src, g)]
            self.last[(f, dst, g)] = self.last[(f, src, g)]

    def _zeroed(self, f, x):
        for g in self.L.segs:
            self.last[(f, x, g)] = 0

    def _do_collapse_range(self, a, s, ns):
        L, f = self.L, a.file
        for y in range(a.idx, len(L.blks)):
            self._writeback_entry(s, f, y)
        self._zeroed(f, a.idx)
        for y in range(a.idx, len(L.blks) - 1):
            self._shift_written(f, y, y + 1)
        self._zeroed(f, len(L.blks) - 1)

    def _do_insert_range(self, a, s, ns):
        L, f = self.L, a.file
        for y in range(a.idx, len(L.blks)):
            self._writeback_entry(s, f, y)
        for y in range(len(L.blks) - 1, a.idx, -1):
            self._shift_written(f, y, y - 1)
        self._zeroed(f, a.idx)

    def _do_dma(self, a, s, ns):
        """The device writes the pinned page (DMA reaches memory, cached copies dropped)."""
        self._dma_into(s, a.phys, a.token)

    def _dma_into(self, s, p, token):
        """DMA of ``token`` into pinned page ``p`` (at the file offset it was pinned
        through)."""
        L = self.L
        f, x = s[L.pin_file[p]], s[L.pin_idx[p]]
        for g in L.segs:
            self.pmem.nt_store(self.seg_off(p, g),
                               self.codec.data_segment(token, f, x, g, self.step_no, "dma"))
            self.written[(f, x, g)].add(token)
            self.last[(f, x, g)] = token
        self.pmem.sfence()

    # ---------------------------------------------------------- split steps (issue 11)
    def _do_dax_fault(self, a, s, ns):
        pass  # a read fault maps pages, a private write fault copies into DRAM

    def _do_dax_pmd_fault(self, a, s, ns):
        pass  # maps the huge zero page

    def _do_dax_mkwrite(self, a, s, ns):
        pass  # tags the entry dirty, makes the PTE writable: no data moves

    def _split_free(self, s, step, f, xs, flush, free):
        """A split hole punch or truncate of ``f``'s indices ``xs``: at step ``flush`` their
        dirty entries are written back, at step ``free`` their allocated blocks read zeros."""
        for x in xs:
            if step == flush:
                self._writeback_entry(s, f, x)
            elif step == free and s[self.L.ext_kind[f][x]] != HOLE:
                self._zeroed(f, x)

    def _do_punch_hole(self, a, s, ns):
        self._split_free(s, a.STEPS[a.step], a.file, (a.idx,), "xfs_flush_unmap_range",
                         "xfs_bunmapi")

    def _do_setattr_size(self, a, s, ns):
        self._split_free(s, a.STEPS[a.step], a.file, [x for x in self.L.blks if x >= a.size],
                         "truncate_pagecache", "xfs_itruncate_extents")

    def _do_dio_read(self, a, s, ns):
        """get_user_pages' slow path faults the page in like a write fault; at completion
        the device writes the data read (t1) into the pages this thread pinned."""
        L, step = self.L, a.STEPS[a.step]
        if step in ("gup_page0", "gup_page1") and \
                s[L.pte_kind[a.proc][a.file][a.step]] != PTE_RW and \
                ns[L.pte_kind[a.proc][a.file][a.step]] == PTE_RW:
            self._do_fault(_WriteFault(a.proc, a.file, a.step), s, ns)
        elif step == "dio_complete" and s[L.th_kind[a.thread]] == 0:
            for p in L.phys:
                if s[L.pin_holder[p]] == a.thread + 1:
                    self._dma_into(s, p, 1)

    def _do_evict_inode(self, a, s, ns):
        for x in self.L.blks:
            self._writeback_entry(s, a.file, x)

    def _do_dedupe(self, a, s, ns):
        self._remap(s, ns, a.src, a.dst, a.soff, a.doff, a.length, inherit=False)

    def _do_fsync(self, a, s, ns):
        self._do_fdatasync(a, s, ns)

    def _do_msync(self, a, s, ns):
        self._do_fdatasync(a, s, ns)

    def _remap(self, s, ns, src, dst, soff, doff, length, inherit=True):
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
            kept = (s[L.ext_kind[src][x]] == UNWRITTEN and s[L.ext_kind[dst][y]] == UNWRITTEN
                    and ns[L.ext_kind[dst][y]] == UNWRITTEN
                    and ns[L.ext_pblk[dst][y]] == s[L.ext_pblk[dst][y]])
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

    def _do_punch(self, a, s, ns):
        self._writeback_entry(s, a.file, a.idx)
        self._zeroed(a.file, a.idx)

    def _do_truncate(self, a, s, ns):
        for x in self.L.blks:
            if x >= a.size:
                self._writeback_entry(s, a.file, x)
                self._zeroed(a.file, x)

    def _do_fdatasync(self, a, s, ns):
        for x in self.L.blks:
            self._writeback_entry(s, a.file, x)

    def _do_crash(self, a, s, ns):
        self.pmem.crash()
        # POSIX promises nothing about unsynced data: what the recovered file holds is
        # the new "last write" (durability is checked on the crash images).
        for f, x in self.L.file_blks:
            data = self.read_block(ns, f, x)
            for g in self.L.segs:
                tok = 0 if data is None else self.codec.segment_token(
                    data[g * self.seg_bytes:(g + 1) * self.seg_bytes])
                self.last[(f, x, g)] = STALE if tok is None else tok

    def _do_evict(self, a, s, ns):
        self.pmem.evict(self.seg_off(a.phys, a.seg), self.seg_bytes)

    # ------------------------------------------------------------------ abstraction
    def abstraction(self) -> dict:
        """Decode the concrete state: ``{(b, g): (media token, cache token)}`` where the
        media token decodes the persisted bytes and the cache token is 0 when no line of the
        segment is unpersisted, else the token of what the CPU sees (None: torn/garbled)."""
        out = {}
        for b in self.L.phys:
            for g in self.L.segs:
                off = self.seg_off(b, g)
                n = self.seg_bytes
                media = self.codec.segment_token(self.pmem.media(off, n))
                cache = (self.codec.segment_token(self.pmem.load(off, n))
                         if self.pmem.dirty(off, n) else 0)
                out[(b, g)] = (media, cache)
        return out

    def check(self, step: int, a, s) -> None:
        """Refinement check against abstract state ``s`` after ``step`` (0 = initial
        state): the decoded media and cache of every (block, segment), and the concrete
        written history against ``ghost_written``; raises :class:`RefinementError` at the
        first differing field."""
        L = self.L
        where = "initial state" if a is None else f"step {step} {a.describe()}"
        for (f, x, g), toks in self.written.items():
            for t in L.toks:
                off = L.ghost_written[f][x][g][t - 1]
                if (t in toks) != (s[off] == 1):
                    raise RefinementError(
                        f"refinement check failed after {where}: {L.label(off)} is "
                        f"{int(t in toks)} in the concrete write history but {s[off]} in "
                        f"the spec")
        for (f, x, g), t in self.last.items():
            off = L.ghost_last[f][x][g]
            if t != s[off]:
                raise RefinementError(
                    f"refinement check failed after {where}: {L.label(off)} is "
                    f"{_tok(t)} in the concrete write history but {_tok(s[off])} in the spec")
        for (b, g), (media, cache) in self.abstraction().items():
            for name, conc, off in (("media", media, L.media[b][g]),
                                    ("cache", cache, L.cache[b][g])):
                if conc != s[off]:
                    raise RefinementError(
                        f"refinement check failed after {where}: {L.label(off)} is "
                        f"{_tok(conc)} on the concrete pmem (bytes 0x{self.seg_off(b, g):05x}-"
                        f"0x{self.seg_off(b, g) + self.seg_bytes - 1:05x}) but {_tok(s[off])} in "
                        f"the spec")

    # ------------------------------------------------------------------ views
    def read_block(self, s, f, x, media: bytes | None = None):
        """What read(2) of file ``f`` block ``x`` returns in abstract state ``s`` (the map
        says where): 4096 bytes, or None beyond EOF; zeros for a hole or unwritten extent.
        With ``media`` (a crash image), the bytes come from it instead of the CPU view."""
        L = self.L
        if x >= s[L.size[f]]:
            return None
        if s[L.ext_kind[f][x]] != WRITTEN:
            return bytes(BLOCK)
        off = s[L.ext_pblk[f][x]] * BLOCK
        return self.pmem.load(off, BLOCK) if media is None else media[off:off + BLOCK]

    def load_block(self, s, n, f, x):
        """What loads through process ``n``'s PTE of ``f``/``x`` return (the zero page for
        a zero PTE), or None without a PTE or for a MAP_PRIVATE anonymous page (DRAM, not
        modelled in bytes)."""
        L = self.L
        k = s[L.pte_kind[n][f][x]]
        if k in (PTE_NONE, PTE_ANON):
            return None
        if k == PTE_ZERO:
            return bytes(BLOCK)
        return self.pmem.load(s[L.pte_pfn[n][f][x]] * BLOCK, BLOCK)


# ============================================================================ checks
@dataclass
class _Bad:
    file: int
    start: int      # file byte offset
    end: int        # inclusive
    desc: str
    pmem_off: int   # -1 when the bytes are not on pmem
    sample: bytes


def _merge(bads: list[_Bad]) -> list[_Bad]:
    out: list[_Bad] = []
    for b in bads:
        if out and out[-1].file == b.file and out[-1].desc == b.desc and out[-1].end + 1 == b.start:
            out[-1].end = b.end
        else:
            out.append(b)
    return out


def _fmt_bad(b: _Bad, prefix: str = "file") -> str:
    where = f"{prefix} {file_name(b.file)}, bytes {b.start}-{b.end} {b.desc}"
    if b.pmem_off >= 0:
        where += f" [pmem 0x{b.pmem_off:05x}: {hex_excerpt(b.sample)}]"
    return where


def _bad_lines(ex: ConcreteExecutor, f, x, data: bytes, pmem_off: int, verb: str,
               promise=None) -> list[_Bad]:
    """Classify each line of a 4096-byte block read at ``f``/``x``: illegitimate data (not
    written/inherited at that offset), and with ``promise`` ((g) -> expected token or 0
    for none) data differing from the promised token."""
    out = []
    for i, info in enumerate(ex.codec.lines(data)):
        g = i // (ex.seg_bytes // LINE)
        start = x * BLOCK + i * LINE
        po = pmem_off + i * LINE if pmem_off >= 0 else -1
        desc = None
        want = promise(g) if promise else 0
        if want and info.token != want - 1:
            desc = f"promised {token_name(want - 1)} by a sync, but {verb} {info.describe()}"
        elif info.kind in ("stale", "garbled") or (
                info.kind == "data" and info.token not in ex.written[(f, x, g)]):
            if info.kind == "data" and info.file != f:
                desc = (f"{verb} file {file_name(info.file)}'s data (written at "
                        f"{file_name(info.file)} block {info.blk}, token {token_name(info.token)})")
            elif info.kind == "data":
                desc = (f"{verb} {token_name(info.token)} written at block {info.blk} segment "
                        f"{info.seg}, never written at this offset")
            else:
                desc = f"{verb} {info.describe()}"
        if desc:
            out.append(_Bad(f, start, start + LINE - 1, desc, po, data[i * LINE:(i + 1) * LINE]))
    return out


def _check_reads(ex, s) -> list[str]:
    """no_stale_data at byte level: every read(2) within EOF and every load through a PTE
    returns zeros or data written (or inherited) at that file offset."""
    L, out = ex.L, []
    bads = []
    for f, x in L.file_blks:
        data = ex.read_block(s, f, x)
        if data is None:
            continue
        po = s[L.ext_pblk[f][x]] * BLOCK if s[L.ext_kind[f][x]] == WRITTEN else -1
        bads += _bad_lines(ex, f, x, data, po, "read")
    out += [_fmt_bad(b) for b in _merge(bads)]
    for n in L.procs:
        bads = []
        for f, x in L.file_blks:
            data = ex.load_block(s, n, f, x)
            if data is None:
                continue
            po = (s[L.pte_pfn[n][f][x]] * BLOCK
                  if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW) else -1)
            bads += _bad_lines(ex, f, x, data, po, "loads through the mapping return")
        out += [f"P{n}: " + _fmt_bad(b) for b in _merge(bads)]
    return out


def _check_coherence(ex, s) -> list[str]:
    """mapping_matches_extents at byte level: loads through every PTE return what read(2)
    returns at that file offset (MAP_SHARED is coherent with read), and no PTE lies
    beyond EOF."""
    L, out = ex.L, []
    for n in L.procs:
        for f, x in L.file_blks:
            load = ex.load_block(s, n, f, x)
            if load is None:
                continue
            rng = f"bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1}"
            read = ex.read_block(s, f, x)
            zero = " (the zero page)" if s[L.pte_kind[n][f][x]] == PTE_ZERO else (
                f" (pmem block p{s[L.pte_pfn[n][f][x]]})")
            if read is None:
                out.append(f"P{n} maps file {file_name(f)}, {rng} beyond EOF (i_size "
                           f"{s[L.size[f]] * BLOCK} bytes): loads return {ex.codec.summarize(load)}")
            elif read != load:
                i = next(i for i in range(0, BLOCK, LINE) if read[i:i + LINE] != load[i:i + LINE])
                out.append(f"P{n}'s mapping of file {file_name(f)}, {rng}: loads return "
                           f"{ex.codec.summarize(load)}{zero} but read(2) returns "
                           f"{ex.codec.summarize(read)} [offset {x * BLOCK + i}: load "
                           f"{hex_excerpt(load[i:])} vs read {hex_excerpt(read[i:])}]")
    return out


def _check_reverse_map(ex, s) -> list[str]:
    """no_page_two_mappings at byte level: for every pmem block, the (file, index) pairs
    whose DAX entries and PTEs reach its bytes versus the owners page->mapping/index (or
    page->share) record; a missing owner is invisible to memory_failure(),
    dax_layout_busy_page() and dax_disassociate_entry()."""
    L, out = ex.L, []
    for p in L.phys:
        owners = sorted({(f, x) for f, x in L.file_blks
                         if s[L.xa_kind[f][x]] == XA_PFN and s[L.xa_pfn[f][x]] == p})
        users = sorted({(n, f, x) for n in L.procs for f, x in L.file_blks
                        if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW) and s[L.pte_pfn[n][f][x]] == p})
        m, idx, share = s[L.page_mapping[p]], s[L.page_index[p]], s[L.page_share[p]]
        if m == PG_NULL:
            ok, rec = not owners, "page->mapping is NULL"
        elif m == PG_SHARED:
            ok, rec = share == len(owners), f"page->share is {share}"
        else:
            ok = owners == [(m - 1, idx)]
            rec = f"page->mapping/index name only file {file_name(m - 1)} index {idx}"
        if ok:
            continue
        who = ", ".join(f"file {file_name(f)} index {x}" for f, x in owners) or "no file"
        ptes = ", ".join(f"P{n} at file {file_name(f)} offset {x * BLOCK}" for n, f, x in users)
        out.append(f"pmem bytes 0x{p * BLOCK:05x}-0x{p * BLOCK + BLOCK - 1:05x} (block p{p}, "
                   f"holding {ex.codec.summarize(ex.pmem.load(p * BLOCK, BLOCK))}) are mapped "
                   f"by {who}" + (f" (PTEs: {ptes})" if ptes else "") + f", but {rec}: "
                   f"the kernel's reverse map of these bytes is wrong")
    return out


def _check_sealed(ex, s) -> list[str]:
    """immutable_extents_never_move at byte level: a sealed file's data must stay at the
    physical address it had when sealed (what a program or device that took that address
    accesses); report a move and whether the bytes there now differ from read(2)."""
    L, out = ex.L, []
    for f, x in L.file_blks:
        if s[L.sealed[f]] != 1:
            continue
        q, p = s[L.ghost_seal_pblk[f][x]], s[L.ext_pblk[f][x]]
        moved = (s[L.ext_kind[f][x]] != WRITTEN or p != q or s[L.jext_kind[f][x]] != WRITTEN
                 or s[L.jext_pblk[f][x]] != q)
        if not moved:
            continue
        at_seal = ex.pmem.load(q * BLOCK, BLOCK)
        read = ex.read_block(s, f, x) or bytes(BLOCK)
        msg = (f"sealed file {file_name(f)} block {x} was at pmem bytes 0x{q * BLOCK:05x}-"
               f"0x{q * BLOCK + BLOCK - 1:05x} (p{q}) when sealed but now lives at p{p}")
        if at_seal != read:
            out.append(msg + f": the sealed physical range holds {ex.codec.summarize(at_seal)} "
                       f"[pmem 0x{q * BLOCK:05x}: {hex_excerpt(at_seal)}] while read(2) returns "
                       f"{ex.codec.summarize(read)}")
        else:
            out.append(msg + " (the bytes at both addresses are still equal)")
    return out


def _seg_tokens(ex, data: bytes) -> list:
    """Token per segment of a 4096-byte block (None: torn or garbled)."""
    n = ex.seg_bytes
    return [ex.codec.segment_token(data[g * n:(g + 1) * n]) for g in ex.L.segs]


def _describe_seg(ex, data: bytes, g: int) -> str:
    n = ex.seg_bytes
    return ex.codec.summarize(data[g * n:(g + 1) * n])


def _check_last_write(ex, s) -> list[str]:
    """read_returns_last_write at byte level: the bytes read(2) returns within EOF, and the
    bytes loads through every PTE that maps the file return, hold the token userspace last
    wrote at that offset (the executor's own history of writes, stores, DMA, zeroing)."""
    L, out = ex.L, []

    def compare(where, f, x, data):
        for g, tok in enumerate(_seg_tokens(ex, data)):
            want = ex.last[(f, x, g)]
            if tok != want:
                start = x * BLOCK + g * ex.seg_bytes
                out.append(f"{where} file {file_name(f)}, bytes {start}-{start + ex.seg_bytes - 1}"
                           f" return {_describe_seg(ex, data, g)}, but the last write there was "
                           f"{token_name(want) if want else 'zeros'}")
    for f, x in L.file_blks:
        data = ex.read_block(s, f, x)
        if data is not None:
            compare("read(2) of", f, x, data)
    for n in L.procs:
        for f, x in L.file_blks:
            if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW, PTE_ZERO):
                compare(f"P{n}'s loads from", f, x, ex.load_block(s, n, f, x))
    return out


def _check_warnings(ex, s) -> list[str]:
    """no_kernel_warning: the WARN_ON_ONCE the replayed steps reach (the kernel's own
    report, as dmesg would show it), with the pmem page the warning is about."""
    return list(ex.warned)


def _check_shared_data(ex, s) -> list[str]:
    """dedupe_shares_equal_data at byte level: two offsets mapping one pmem block read the
    same bytes, so what userspace last wrote at both must be the same; report the offset
    whose own last write the shared bytes contradict."""
    L, out = ex.L, []
    for (f, x) in L.file_blks:
        if s[L.ext_kind[f][x]] != WRITTEN:
            continue
        for (h, y) in L.file_blks:
            if (h, y) <= (f, x) or s[L.ext_kind[h][y]] != WRITTEN or \
                    s[L.ext_pblk[h][y]] != s[L.ext_pblk[f][x]]:
                continue
            p = s[L.ext_pblk[f][x]]
            data = ex.pmem.load(p * BLOCK, BLOCK)
            for g, tok in enumerate(_seg_tokens(ex, data)):
                a, b = ex.last[(f, x, g)], ex.last[(h, y, g)]
                if a != b:
                    start = g * ex.seg_bytes
                    out.append(f"pmem block p{p} (bytes 0x{p * BLOCK + start:05x}-) is shared by "
                               f"file {file_name(f)} block {x} and file {file_name(h)} block {y} "
                               f"and holds {_describe_seg(ex, data, g)}, but the last writes "
                               f"there were {token_name(a)} and {token_name(b)}")
    return out


def _check_pins(ex, s) -> list[str]:
    """pinned_pages_stay_allocated at byte level: a pinned page is the DMA target; name the
    file block whose bytes the DMA would overwrite now."""
    L, out = ex.L, []
    for p in L.phys:
        if s[L.pinned[p]] != 1:
            continue
        f, x = s[L.pin_file[p]], s[L.pin_idx[p]]
        if s[L.ext_kind[f][x]] == WRITTEN and s[L.ext_pblk[f][x]] == p:
            continue
        now = [(h, y) for h, y in L.file_blks
               if s[L.ext_kind[h][y]] != HOLE and s[L.ext_pblk[h][y]] == p]
        who = (", ".join(f"file {file_name(h)} block {y}" for h, y in now)
               if now else "no file (free)")
        out.append(f"pmem bytes 0x{p * BLOCK:05x}-0x{p * BLOCK + BLOCK - 1:05x} (p{p}, holding "
                   f"{ex.codec.summarize(ex.pmem.load(p * BLOCK, BLOCK))}) are pinned for a DMA "
                   f"into file {file_name(f)} block {x}, but now belong to {who}: the DMA "
                   f"will land there")
    return out


def _check_pmd(ex, s) -> list[str]:
    """pmd_excludes_pte: the PMD-order entry or mapping and the 4 KiB entries or PTEs that
    overlap it, with the bytes each maps."""
    L, out = ex.L, []
    for f in L.files:
        pmd = s[L.pmd_zero[f]] == 1 or s[L.pmd_pfn[f]] == 1
        for x in L.blks:
            own = s[L.xa_kind[f][x]] != 0 and s[L.xa_order[f][x]] != ORDER_PMD
            if pmd and own:
                out.append(f"file {file_name(f)}: a PMD entry covers bytes 0-"
                           f"{len(L.blks) * BLOCK - 1} but index {x} (bytes {x * BLOCK}-"
                           f"{x * BLOCK + BLOCK - 1}) still has a 4 KiB entry of its own")
        for n in L.procs:
            if s[L.pmd_map[n][f]] != 1:
                continue
            for x in L.blks:
                k = s[L.pte_kind[n][f][x]]
                ok = (k == PTE_ZERO) if s[L.pmd_zero[f]] == 1 else (
                    k == PTE_RO and s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]])
                if not ok:
                    load = ex.load_block(s, n, f, x)
                    what = ("an anonymous CoW page" if load is None else
                            f"loads return {ex.codec.summarize(load)}")
                    out.append(f"P{n} maps file {file_name(f)} with a PMD and also with a PTE "
                               f"at bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1} ({what})")
    return out


def _check_dax_flag(ex, s) -> list[str]:
    """dax_flag_changes_only_when_unmapped: a file without S_DAX whose PTEs still reach pmem
    (stores there bypass the page cache the inode now uses)."""
    L, out = ex.L, []
    for f in L.files:
        if s[L.s_dax[f]] != 0:
            continue
        for n in L.procs:
            for x in L.blks:
                if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW, PTE_ZERO):
                    out.append(f"file {file_name(f)} is no longer DAX (S_DAX clear) but P{n} "
                               f"still maps bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1} to "
                               f"{'the zero page' if s[L.pte_kind[n][f][x]] == PTE_ZERO else f'pmem block p{s[L.pte_pfn[n][f][x]]}'}")
        for x in L.blks:
            if s[L.xa_kind[f][x]] != 0 and not any(
                    s[L.pte_kind[n][f][x]] != PTE_NONE for n in L.procs):
                out.append(f"file {file_name(f)} is no longer DAX (S_DAX clear) but its "
                           f"xarray still holds a DAX entry at index {x}")
    return out


def _check_deadlock(ex, s) -> list[str]:
    """The cycles of threads the replayed interleaving left waiting for each other
    (``no_deadlock`` fails): per waiting thread of a cycle, its step and the lock the next
    one holds (a lock-state symptom: a deadlock has no byte-level effect of its own)."""
    from daxcheck.spec.ops.races import SplitOp, cycles
    m = ex.m
    L, D = m.L, m.design
    W = L.waits_for
    if W is None:
        return []
    out = []
    for c in cycles(L.threads):
        ts = c.threads
        pairs = [(ts[i], ts[(i + 1) % len(ts)]) for i in range(len(ts))]
        if not all(W(L, s, t, u) is True for t, u in pairs):
            continue
        waits = []
        for t, u in pairs:
            for a in m.actions:
                if isinstance(a, SplitOp) and a.thread == t and a.step and a.at(L, s) is True:
                    for n in a.needs(D, L, a.step):
                        if n.blocked_by(L, s, u) is True and a.blocked_by(D, L, s, u) is True:
                            waits.append(f"T{t} ({a.name} at {a.STEPS[a.step]}) waits for "
                                         f"{n.describe()}, held by T{u}")
        out.append(f"threads blocked forever ({c}): " + "; ".join(waits))
    return out


_FINAL_CHECKS = {"no_stale_data": _check_reads,
                 "no_deadlock": _check_deadlock,
                 "mapping_matches_extents": _check_coherence,
                 "no_page_two_mappings": _check_reverse_map,
                 "immutable_extents_never_move": _check_sealed,
                 "read_returns_last_write": _check_last_write,
                 "no_kernel_warning": _check_warnings,
                 "dedupe_shares_equal_data": _check_shared_data,
                 "pinned_pages_stay_allocated": _check_pins,
                 "pmd_excludes_pte": _check_pmd,
                 "dax_flag_changes_only_when_unmapped": _check_dax_flag}


# ============================================================================ crashes
@dataclass
class CrashCheck:
    """The crash images checked at one crash point.

    after_step: the trace step after which the crash happens; at_end: the crash was added
    after the last step (durability property) rather than being a step of the trace;
    possible: number of distinct images; checked / failed: images checked and failing;
    sampled: True when ``possible`` exceeded 2^12 and a seeded sample was checked;
    failures: ``{description: images}`` aggregated over failing images; details: the bad
    byte ranges of the first few failing images.
    """

    after_step: int
    at_end: bool
    possible: int
    checked: int = 0
    failed: int = 0
    sampled: bool = False
    seed: int = 0
    failures: Counter = field(default_factory=Counter)
    details: list = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        how = (f"{self.checked} sampled (seed {self.seed}) of {self.possible} possible"
               if self.sampled else f"{self.checked} of {self.possible} (all)")
        where = "at the end of the trace" if self.at_end else f"at step {self.after_step}"
        out = [f"crash {where}: {how} crash images checked, {self.failed} failed"]
        for desc, n in self.failures.most_common():
            out.append(f"  {desc}: in {n} image{'s' if n != 1 else ''}")
        out += [f"  {d}" for d in self.details]
        return out


def _check_recovered(ex, rec, media: bytes) -> list[_Bad]:
    """Byte-level properties after recovery: ``rec`` is the abstract state after Crash
    (recovered map and sizes, surviving ghost promises), ``media`` the crash image."""
    L, bads = ex.L, []
    for f, x in L.file_blks:
        promise = lambda g, f=f, x=x: rec[L.ghost_durable[f][x][g]]
        data = ex.read_block(rec, f, x, media)
        if data is None:
            for g in L.segs:
                want = promise(g)
                if want and want - 1 != 0:
                    start = x * BLOCK + g * ex.seg_bytes
                    bads.append(_Bad(f, start, start + ex.seg_bytes - 1,
                                     f"promised {token_name(want - 1)} by a sync, but the "
                                     f"recovered file ends at byte {rec[L.size[f]] * BLOCK}: "
                                     f"the data is lost", -1, b""))
            continue
        po = rec[L.ext_pblk[f][x]] * BLOCK if rec[L.ext_kind[f][x]] == WRITTEN else -1
        bads += _bad_lines(ex, f, x, data, po, "after recovery reads", promise)
    return _merge(bads)


def _crash_point(ex, rec, after_step, at_end, crash_states, seed) -> CrashCheck:
    pm = ex.pmem
    possible = pm.crash_image_count()
    sample = MAX_ENUM if crash_states == "all" else int(crash_states)
    cc = CrashCheck(after_step, at_end, possible, sampled=possible > MAX_ENUM, seed=seed)
    for img in pm.crash_images(sample=sample, seed=seed):
        cc.checked += 1
        bads = _check_recovered(ex, rec, img.media)
        if not bads:
            continue
        cc.failed += 1
        for d in {f"file {file_name(b.file)}: {b.desc.split(' [')[0]}" for b in bads}:
            cc.failures[d] += 1
        if len(cc.details) < MAX_DETAILS:
            n_lines = len(img.choice)
            cc.details.append(f"image #{img.index} ({img.persisted_lines()} of {n_lines} lines "
                              f"with unpersisted stores reached the media): "
                              + "; ".join(_fmt_bad(b) for b in bads[:3]))
    return cc


# ============================================================================ replay
@dataclass
class ConcreteReport:
    """Outcome of :func:`replay_concrete`.

    design, prop: names; steps: actions replayed; pmem_path / pmem_bytes: the buffer used;
    refinement_ok / refinement_error: the refinement check verdict and its one-line
    message (only with ``strict=False``; strict replays raise instead); symptoms: byte-level
    violations seen in the final state (one line each); notes: other remarks (e.g. a
    property without a byte-level check); crashes: one :class:`CrashCheck` per crash point.
    """

    design: str
    prop: str | None
    steps: int = 0
    pmem_path: str = ""
    pmem_bytes: int = 0
    pmem_copy_of: str | None = None
    refinement_ok: bool = True
    refinement_error: str | None = None
    symptoms: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    crashes: list = field(default_factory=list)

    @property
    def crash_images_checked(self) -> int:
        """Crash images checked over all crash points."""
        return sum(c.checked for c in self.crashes)

    @property
    def crash_images_failed(self) -> int:
        """Crash images that violated a byte-level property after recovery."""
        return sum(c.failed for c in self.crashes)

    @property
    def reproduced(self) -> bool:
        """A byte-level violation was seen (a symptom or a failing crash image)."""
        return bool(self.symptoms) or self.crash_images_failed > 0

    def as_dict(self) -> dict:
        """The report as JSON-able data (for a summary table or ``--json``)."""
        return {"design": self.design, "property": self.prop, "steps": self.steps,
                "pmem_path": self.pmem_path, "pmem_bytes": self.pmem_bytes,
                "pmem_copy_of": self.pmem_copy_of, "refinement_ok": self.refinement_ok,
                "refinement_error": self.refinement_error, "symptoms": list(self.symptoms),
                "notes": list(self.notes),
                "crashes": [{"after_step": c.after_step, "at_end": c.at_end,
                             "possible": c.possible, "checked": c.checked, "failed": c.failed,
                             "sampled": c.sampled, "seed": c.seed,
                             "failures": dict(c.failures)} for c in self.crashes],
                "crash_images_checked": self.crash_images_checked,
                "crash_images_failed": self.crash_images_failed,
                "reproduced": self.reproduced}

    def lines(self) -> list[str]:
        """The report as plain text lines (no markup)."""
        src = f" (a copy of {self.pmem_copy_of})" if self.pmem_copy_of else ""
        out = [f"concrete replay of {self.design}"
               + (f" / {self.prop}" if self.prop else "")
               + f": {self.steps} steps on a {self.pmem_bytes}-byte pmem buffer "
               f"{self.pmem_path}{src}, {LINE}-byte cache lines"]
        if self.refinement_ok:
            out.append("refinement: ok (decoded pmem media and cache equal the spec's after "
                       "every step)")
        else:
            out.append(f"refinement: FAILED: {self.refinement_error}")
        for sym in self.symptoms:
            out.append(f"symptom: {sym}")
        for n in self.notes:
            out.append(f"note: {n}")
        for c in self.crashes:
            out += c.lines()
        out.append("byte-level violation: " + ("reproduced" if self.reproduced else
                                                 "not reproduced"))
        return out


def replay_concrete(model, actions, pmem_path=None, force: bool = False,
                    crash_states="all", seed: int = 0, prop: str | None = None,
                    strict: bool = True) -> ConcreteReport:
    """Replay ``actions`` on ``model`` and on a concrete pmem buffer, refinement-checked.

    model: a :class:`~daxcheck.spec.model.DaxModel`; actions: its actions (e.g.
    ``Trace.actions`` from :func:`~daxcheck.checker.trace.read_itf`); pmem_path: a user's
    file to use as the pmem region (``None``: a temporary file), worked on through a copy
    unless ``force``; crash_states: ``"all"`` (every crash image if there are at most 2^12,
    else a sample of 2^12) or an int N (sample size when there are more than 2^12);
    seed: the sampling seed; prop: the violated property whose byte-level symptom to look
    for (``None``: every check, and a crash at the end); strict: raise on a refinement
    failure (else stop there and report it).

    Returns a :class:`ConcreteReport`.  Raises :class:`PmemError` (bad pmem path, or the
    region is smaller than ``phys`` x 4096 bytes), :class:`~daxcheck.checker.trace.TraceError`
    (a step is not enabled), :class:`RefinementError` (strict only), ValueError (bad
    ``crash_states``).
    """
    if crash_states != "all":
        if isinstance(crash_states, bool) or not isinstance(crash_states, int) or crash_states < 1:
            raise ValueError(f"crash_states must be 'all' or a positive int, not {crash_states!r}")
    size = model.bounds.phys * BLOCK
    with PmemBuffer(size, pmem_path, force=force) as pm:
        ex = ConcreteExecutor(model, pm)
        rep = ConcreteReport(model.design.name, prop, pmem_path=pm.path, pmem_bytes=size,
                             pmem_copy_of=pm.user_path if pm.is_copy else None)
        s = model.init_states()[0]
        try:
            ex.check(0, None, s)
            for n, a in enumerate(actions, 1):
                ns = model.next_state(s, a)
                if ns is None:
                    raise TraceError(f"step {n}: {a.describe()} is not enabled in design "
                                     f"{model.design.name}")
                if a.name == "crash":
                    rep.crashes.append(_crash_point(ex, ns, n - 1, False, crash_states, seed))
                ex.step(a, s, ns)
                ex.check(n, a, ns)
                rep.steps = n
                s = ns
            rep.notes += ex.notes
        except RefinementError as e:
            if strict:
                raise
            rep.refinement_ok, rep.refinement_error = False, str(e)
            return rep
        checks = (list(_FINAL_CHECKS.items()) if prop is None
                  else [(prop, _FINAL_CHECKS[prop])] if prop in _FINAL_CHECKS else [])
        for _, fn in checks:
            rep.symptoms += fn(ex, s)
        if prop is None or prop in DURABILITY_PROPS:
            rec = Crash().apply(model, s)
            rep.crashes.append(_crash_point(ex, rec, len(actions), True, crash_states, seed))
        elif prop not in _FINAL_CHECKS:
            rep.notes.append(f"property {prop} has no byte-level check; only the refinement "
                             f"check applies")
        return rep


__all__ = ["replay_concrete", "ConcreteReport", "ConcreteExecutor", "CrashCheck",
           "RefinementError", "PmemError", "Codec", "LineInfo", "hex_excerpt"]

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

from dataclasses import dataclass, field

from daxcheck.spec.designs import Design
from daxcheck.spec.ops import Crash
from daxcheck.spec.state import (
    HOLE,
    PTE_ANON,
    PTE_NONE,
    PTE_ZERO,
    STALE,
    UNWRITTEN,
    WRITTEN,
    XA_PFN,
    token_name,
)

from ..trace import TraceError
from .checks import FINAL_CHECKS, MAX_DETAILS, CrashCheck, crash_point
from .codec import LINES_PER_SEG, SEG_BYTES, Codec, LineInfo, hex_excerpt
from .ops.crash import CrashOps
from .ops.fallocate import FallocateOps
from .ops.file_io import FileIoOps
from .ops.inode import InodeOps
from .ops.mmap_fault import MmapFaultOps
from .ops.pins import PinsOps
from .ops.races import RacesOps
from .ops.reflink import ReflinkOps
from .ops.sync import SyncOps
from .pmem import BLOCK, LINE, PmemBuffer, PmemError

DURABILITY_PROPS = frozenset({"durable_after_sync", "no_stale_data_after_crash"})
"""Properties about what a crash leaves: checked on the crash images of a crash added at
the end of the trace."""


class RefinementError(AssertionError):
    """The concrete bytes and the abstract state disagree after a step: the decoded pmem
    media or CPU cache of some (physical block, segment) differs from the abstract field.
    One-line message naming the step, the action and the field."""


def _tok(v) -> str:
    return "torn/garbled" if v is None else token_name(v)


# ============================================================================ executor
class ConcreteExecutor(
    MmapFaultOps,
    FileIoOps,
    FallocateOps,
    ReflinkOps,
    SyncOps,
    PinsOps,
    CrashOps,
    InodeOps,
    RacesOps,
):
    """Performs the data effects of the model's actions on a :class:`PmemBuffer`.

    ``model``: a :class:`~daxcheck.spec.model.DaxModel`; ``pmem``: a buffer of at least
    ``phys * 4096`` bytes (else :class:`PmemError`).  The constructor lays the pre-mkfs
    STALE pattern on the media of every physical block.  :meth:`step` applies one action
    given the abstract pre- and post-state; :meth:`check` is the refinement check.
    ``written[(f, x, g)]`` is the concrete history of tokens written (or inherited by
    reflink) at each file offset, ``last[(f, x, g)]`` the token userspace last wrote there
    (0 after zeroing; what read(2) must return), ``warned`` the kernel WARNs the spec's
    steps reached (message per step).

    The per-action handlers ``_do_<action name>`` live in :mod:`daxcheck.checker.concrete.ops`,
    one mixin per family of spec/ops/ (same file names: ``ops/mmap_fault.py`` beside
    ``spec/ops/mmap_fault.py``, ...); this class keeps the data primitives they share.
    """

    def __init__(self, model, pmem: PmemBuffer):
        self.m, self.L, self.D = model, model.L, model.design
        need = model.bounds.phys * BLOCK
        if pmem.size < need:
            raise PmemError(
                f"pmem region of {pmem.size} bytes is too small: the trace uses "
                f"{model.bounds.phys} blocks = {need} bytes"
            )
        if model.bounds.cuts:
            raise PmemError(
                f"byte-level replay splits a block into equal segments of whole 64-byte "
                f"lines; this model cuts it at bytes {list(model.bounds.cuts)} (--segs)"
            )
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
            self.pmem.nt_store(
                self.seg_off(dst, g), self.pmem.load(self.seg_off(src, g), self.seg_bytes)
            )
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

    def _zeroed(self, f, x):
        """Every segment of file ``f`` block ``x`` now reads zeros (what read(2) must
        return after a punch, truncate or ZERO_RANGE)."""
        for g in self.L.segs:
            self.last[(f, x, g)] = 0

    def _overrides(self, *hooks) -> bool:
        """The design is a user's subclass that overrides one of ``hooks`` (data decisions
        the executor otherwise re-implements from the design's settings)."""
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
                    elif k0 == UNWRITTEN:  # before the 2022 fix: copied raw, holes skipped
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
            self.warned.append(
                f"step {self.step_no} {a.describe()} reaches "
                f"WARN_ON_ONCE: {L.show(L.warning, ns[L.warning])}"
            )
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
                self.written[(f, x, g)] = {
                    t for t in L.toks if ns[L.ghost_written[f][x][g][t - 1]] == 1
                }
                self.last[(f, x, g)] = ns[L.ghost_last[f][x][g]]

    def _pattern(self, t, b, f, x, g):
        """The bytes of token ``t`` for segment ``g`` of block ``b`` (written at ``f``/``x``)."""
        if t == STALE:
            return self.codec.stale_block(b)[g * self.seg_bytes : (g + 1) * self.seg_bytes]
        return self.codec.data_segment(t, f, x, g, self.step_no, "user")

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
                cache = (
                    self.codec.segment_token(self.pmem.load(off, n))
                    if self.pmem.dirty(off, n)
                    else 0
                )
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
                        f"the spec"
                    )
        for (f, x, g), t in self.last.items():
            off = L.ghost_last[f][x][g]
            if t != s[off]:
                raise RefinementError(
                    f"refinement check failed after {where}: {L.label(off)} is "
                    f"{_tok(t)} in the concrete write history but {_tok(s[off])} in the spec"
                )
        for (b, g), (media, cache) in self.abstraction().items():
            for _name, conc, off in (
                ("media", media, L.media[b][g]),
                ("cache", cache, L.cache[b][g]),
            ):
                if conc != s[off]:
                    raise RefinementError(
                        f"refinement check failed after {where}: {L.label(off)} is "
                        f"{_tok(conc)} on the concrete pmem (bytes 0x{self.seg_off(b, g):05x}-"
                        f"0x{self.seg_off(b, g) + self.seg_bytes - 1:05x}) but {_tok(s[off])} in "
                        f"the spec"
                    )

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
        return self.pmem.load(off, BLOCK) if media is None else media[off : off + BLOCK]

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
        return {
            "design": self.design,
            "property": self.prop,
            "steps": self.steps,
            "pmem_path": self.pmem_path,
            "pmem_bytes": self.pmem_bytes,
            "pmem_copy_of": self.pmem_copy_of,
            "refinement_ok": self.refinement_ok,
            "refinement_error": self.refinement_error,
            "symptoms": list(self.symptoms),
            "notes": list(self.notes),
            "crashes": [
                {
                    "after_step": c.after_step,
                    "at_end": c.at_end,
                    "possible": c.possible,
                    "checked": c.checked,
                    "failed": c.failed,
                    "sampled": c.sampled,
                    "seed": c.seed,
                    "failures": dict(c.failures),
                }
                for c in self.crashes
            ],
            "crash_images_checked": self.crash_images_checked,
            "crash_images_failed": self.crash_images_failed,
            "reproduced": self.reproduced,
        }

    def lines(self) -> list[str]:
        """The report as plain text lines (no markup)."""
        src = f" (a copy of {self.pmem_copy_of})" if self.pmem_copy_of else ""
        out = [
            f"concrete replay of {self.design}"
            + (f" / {self.prop}" if self.prop else "")
            + f": {self.steps} steps on a {self.pmem_bytes}-byte pmem buffer "
            f"{self.pmem_path}{src}, {LINE}-byte cache lines"
        ]
        if self.refinement_ok:
            out.append(
                "refinement: ok (decoded pmem media and cache equal the spec's after every step)"
            )
        else:
            out.append(f"refinement: FAILED: {self.refinement_error}")
        for sym in self.symptoms:
            out.append(f"symptom: {sym}")
        for n in self.notes:
            out.append(f"note: {n}")
        for c in self.crashes:
            out += c.lines()
        out.append(
            "byte-level violation: " + ("reproduced" if self.reproduced else "not reproduced")
        )
        return out


def replay_concrete(
    model,
    actions,
    pmem_path=None,
    *,
    force: bool = False,
    crash_states="all",
    seed: int = 0,
    prop: str | None = None,
    strict: bool = True,
) -> ConcreteReport:
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
        rep = ConcreteReport(
            model.design.name,
            prop,
            pmem_path=pm.path,
            pmem_bytes=size,
            pmem_copy_of=pm.user_path if pm.is_copy else None,
        )
        try:
            s = _replay_steps(model, ex, rep, actions, crash_states, seed)
        except RefinementError as e:
            if strict:
                raise
            rep.refinement_ok, rep.refinement_error = False, str(e)
            return rep
        _final_checks(model, ex, rep, s, len(actions), prop, crash_states, seed)
        return rep


def _replay_steps(model, ex, rep, actions, crash_states, seed) -> bytes:
    """Run ``actions`` from the initial state on the spec and on the executor ``ex``,
    refinement-checking each step, recording a crash point at each crash into ``rep``;
    returns the last spec state.  Raises TraceError (a step not enabled) and
    RefinementError."""
    s = model.init_states()[0]
    ex.check(0, None, s)
    for n, a in enumerate(actions, 1):
        ns = model.next_state(s, a)
        if ns is None:
            raise TraceError(
                f"step {n}: {a.describe()} is not enabled in design {model.design.name}"
            )
        if a.name == "crash":
            rep.crashes.append(crash_point(ex, ns, n - 1, crash_states, seed, at_end=False))
        ex.step(a, s, ns)
        ex.check(n, a, ns)
        rep.steps = n
        s = ns
    rep.notes += ex.notes
    return s


def _final_checks(model, ex, rep, s, steps: int, prop, crash_states, seed) -> None:
    """After the last of ``steps`` actions (spec state ``s``): the byte-level symptom checks
    of ``prop`` (every one when None) and, for a durability property, a crash at the end,
    into ``rep``."""
    checks = (
        list(FINAL_CHECKS.items())
        if prop is None
        else [(prop, FINAL_CHECKS[prop])]
        if prop in FINAL_CHECKS
        else []
    )
    for _, fn in checks:
        rep.symptoms += fn(ex, s)
    if prop is None or prop in DURABILITY_PROPS:
        rec = Crash().apply(model, s)
        rep.crashes.append(crash_point(ex, rec, steps, crash_states, seed, at_end=True))
    elif prop not in FINAL_CHECKS:
        rep.notes.append(
            f"property {prop} has no byte-level check; only the refinement check applies"
        )


__all__ = [
    "replay_concrete",
    "ConcreteReport",
    "ConcreteExecutor",
    "CrashCheck",
    "RefinementError",
    "PmemError",
    "Codec",
    "LineInfo",
    "hex_excerpt",
    "FINAL_CHECKS",
    "DURABILITY_PROPS",
    "MAX_DETAILS",
    "SEG_BYTES",
    "LINES_PER_SEG",
]

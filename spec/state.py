"""The abstract fsdax state: bounds, encodings and the flat layout of one state value.

A state is an immutable ``bytes`` value: every field is a small unsigned int (0..255)
at a fixed offset computed from the :class:`Bounds`.  ``bytes`` is frozen, hashable,
cheap to copy into a ``bytearray`` draft, and about 1 byte per field in the explorer's
store.  :class:`Layout` maps each named field (indexed by file, file block, physical
block, segment, token, process) to its offset, so transitions read ``s[L.ext_kind[f][x]]``.

Units: a *file block* and a *physical block* are one 4 KiB pmem page (one PTE); each
block holds ``SEGS`` = 2 *segments* of 2 KiB so that a partial (unaligned) write is
distinguishable from a full one; a segment holds one *data token* (0 = zeros).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .bounds import SEG_CHOICES as SEG_CHOICES  # re-exported: spec.state is their old home
from .bounds import SEGS as SEGS
from .bounds import Bounds, BoundsError
from .segments import byte_range

# Extent kinds (the file's block map, struct xfs_bmbt_irec / ext4_extent state).
HOLE, UNWRITTEN, WRITTEN = 0, 1, 2
EXT_NAMES = ("hole", "unwritten", "written")

# DAX xarray entry kinds (fs/dax.c: empty, DAX_ZERO_PAGE entry, pfn entry).
XA_EMPTY, XA_ZERO, XA_PFN = 0, 1, 2
XA_NAMES = ("empty", "zero", "pfn")

# Order of a DAX entry: a PTE-sized entry, or part of the file's PMD entry (DAX_PMD).
ORDER_PTE, ORDER_PMD = 0, 1
ORDER_NAMES = ("pte", "pmd")

# Page-table entry kinds for one 4 KiB file page in one mmap: none, read-only pfn, writable
# pfn, the zero page, an anonymous page (a MAP_PRIVATE write fault's CoW copy, dax_fault_cow_page).
PTE_NONE, PTE_RO, PTE_RW, PTE_ZERO, PTE_ANON = 0, 1, 2, 3, 4
PTE_NAMES = ("none", "ro", "rw", "zero", "anon")

# mmap modes: not mapped, MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC, MAP_PRIVATE.
MM_NONE, MM_SHARED, MM_SYNC, MM_PRIVATE = 0, 1, 2, 3
MM_NAMES = ("none", "shared", "shared+sync", "private")

# page->mapping of a pmem page: NULL, the address_space of file f (encoded f+1),
# or PAGE_MAPPING_DAX_SHARED (5.19+, mm/dax.c) which defers owners to page->share.
PG_NULL = 0
PG_SHARED = 255

# Data tokens: 0 = zeros, 1..T = data written by userspace, STALE = media contents that
# no file of this filesystem wrote (pmem is not zeroed by mkfs or by CoW-fork allocation).
ZERO_TOKEN = 0
STALE = 254  # so that a durability promise (token + 1) still fits in a byte

OFF_ON = ("off", "on")


@dataclass(frozen=True)
class FieldSpec:
    """One state field: ``name``; ``dims``, the index dimensions (names among ``file``,
    ``blk``, ``seg``, ``tok``, ``proc``, ``phys``; ``()`` for a scalar); ``category`` (meta,
    journal, xarray, pte, page, anon, cache, media, ghost: the volatile ones are lost in a
    crash); ``kind``, the value kind (a tuple of names for an enum, or "pblk", "token",
    "promise", "pgmap", "file", "blk", "warning", "holder" (0 = free, else the holding
    thread + 1), or None for a plain count/flag); ``doc``;
    ``domain``: a function of the :class:`Bounds` giving every value the field can hold
    (default: derived from the kind); ``init``: the value after mkfs; ``origin``: "shipped"
    or the user's file that declared it.

    The symmetry reduction and the batched backends read ``dims`` and ``kind``: a field
    whose values are physical blocks, files or tokens must say so.
    """

    name: str
    dims: tuple
    category: str
    kind: object
    doc: str
    domain: Callable[[Bounds], Iterable[int]] | None = None
    init: int = 0
    origin: str = "shipped"

    def values(self, b: Bounds) -> tuple:
        """Sorted tuple of the values this field can hold at bounds ``b``."""
        if self.domain is not None:
            return tuple(sorted(set(self.domain(b))))
        k = self.kind
        if isinstance(k, tuple):
            return tuple(range(len(k)))
        if k == "pblk":
            return tuple(range(b.phys))
        if k == "file":
            return tuple(range(b.files))
        if k == "blk":
            return tuple(range(b.blocks))
        if k == "holder":
            return tuple(range(b.threads + 1))
        if k == "token":
            return tuple(range(b.tokens + 1)) + (STALE,)
        if k == "promise":
            return (0,) + tuple(t + 1 for t in range(b.tokens + 1)) + (STALE + 1,)
        if k == "pgmap":
            return (PG_NULL,) + tuple(range(1, b.files + 1)) + (PG_SHARED,)
        if k == "warning":
            return tuple(range(len(WARNINGS) + 1))
        return (0, 1)


def _extents(b):
    return range(b.files * b.blocks + 1)


def _flag(b):
    return (0, 1)


FIELDS = (
    FieldSpec("size", ("file",), "meta", None, "i_size in blocks", lambda b: range(b.blocks + 1)),
    FieldSpec(
        "jsize",
        ("file",),
        "journal",
        None,
        "i_size as persisted in the log",
        lambda b: range(b.blocks + 1),
    ),
    FieldSpec(
        "sealed",
        ("file",),
        "journal",
        None,
        "S_IOMAP_IMMUTABLE: block map sealed (2017 proposal)",
        _flag,
    ),
    FieldSpec("usync", ("file",), "meta", None, "inode in userspace-sync (MAP_SYNC) mode", _flag),
    FieldSpec(
        "pmd_zero",
        ("file",),
        "xarray",
        None,
        "a PMD zero-page entry covers indices 0..blocks-1",
        _flag,
    ),
    FieldSpec("ext_kind", ("file", "blk"), "meta", EXT_NAMES, "in-memory extent state"),
    FieldSpec("ext_pblk", ("file", "blk"), "meta", "pblk", "in-memory extent physical block"),
    FieldSpec("jext_kind", ("file", "blk"), "journal", EXT_NAMES, "journaled extent state"),
    FieldSpec("jext_pblk", ("file", "blk"), "journal", "pblk", "journaled extent physical block"),
    FieldSpec("xa_kind", ("file", "blk"), "xarray", XA_NAMES, "DAX xarray entry"),
    FieldSpec("xa_pfn", ("file", "blk"), "xarray", "pblk", "pfn of a pfn entry"),
    FieldSpec(
        "xa_dirty", ("file", "blk"), "xarray", None, "PAGECACHE_TAG_DIRTY on the entry", _flag
    ),
    FieldSpec("mmap_mode", ("proc", "file"), "pte", MM_NAMES, "the process's mapping of the file"),
    FieldSpec("pte_kind", ("proc", "file", "blk"), "pte", PTE_NAMES, "page-table entry"),
    FieldSpec("pte_pfn", ("proc", "file", "blk"), "pte", "pblk", "pfn the PTE maps"),
    FieldSpec(
        "refcount",
        ("phys",),
        "meta",
        None,
        "extent references (refcount btree; 0 = free)",
        _extents,
    ),
    FieldSpec("page_mapping", ("phys",), "page", "pgmap", "page->mapping"),
    FieldSpec("page_index", ("phys",), "page", None, "page->index", lambda b: range(b.blocks)),
    FieldSpec("page_share", ("phys",), "page", None, "page->share (6.2 fsdax reflink)", _extents),
    FieldSpec(
        "cache",
        ("phys", "seg"),
        "cache",
        "token",
        "dirty CPU cache line contents (0 = clean)",
        lambda b: range(b.tokens + 1),
    ),
    FieldSpec("media", ("phys", "seg"), "media", "token", "persisted pmem contents"),
    FieldSpec(
        "ghost_written",
        ("file", "blk", "seg", "tok"),
        "ghost",
        None,
        "token was ever written at this file offset (or inherited by reflink); monotonic",
        _flag,
    ),
    FieldSpec(
        "ghost_durable",
        ("file", "blk", "seg"),
        "ghost",
        "promise",
        "token promised durable at this offset by a sync (0 = no promise, else token+1)",
    ),
    FieldSpec("ghost_seal_pblk", ("file", "blk"), "ghost", "pblk", "physical block when sealed"),
    # ---- issue 8: kernel assertions, PMD pfn entries, MAP_PRIVATE, pins, S_DAX, POSIX reads
    FieldSpec(
        "warning",
        (),
        "ghost",
        "warning",
        "the first kernel WARN_ON reached (message number, 0 = none; sticky like dmesg)",
    ),
    FieldSpec(
        "pmd_pfn",
        ("file",),
        "xarray",
        None,
        "a PMD pfn entry covers indices 0..blocks-1 (a PMD-aligned contiguous extent)",
        _flag,
    ),
    FieldSpec(
        "xa_order",
        ("file", "blk"),
        "xarray",
        ORDER_NAMES,
        "the index's entry is part of the file's PMD entry (DAX_PMD) or its own",
    ),
    FieldSpec(
        "pmd_map",
        ("proc", "file"),
        "pte",
        OFF_ON,
        "the process maps indices 0..blocks-1 with one PMD (the PTEs mirror it)",
    ),
    FieldSpec(
        "anon",
        ("proc", "file", "blk", "seg"),
        "anon",
        "token",
        "contents of the process's anonymous CoW page of a MAP_PRIVATE mapping",
        lambda b: tuple(range(b.tokens + 1)) + (STALE,),
    ),
    FieldSpec(
        "pinned",
        ("phys",),
        "page",
        None,
        "a get_user_pages pin (FOLL_PIN: O_DIRECT or RDMA in flight) holds the page",
        _flag,
    ),
    FieldSpec(
        "pin_file",
        ("phys",),
        "page",
        "file",
        "file whose mapping the pinned page was reached through",
    ),
    FieldSpec(
        "pin_idx", ("phys",), "page", "blk", "file index the pinned page was reached through"
    ),
    FieldSpec(
        "s_dax", ("file",), "meta", OFF_ON, "S_DAX: the inode's I/O and faults use DAX", init=1
    ),
    FieldSpec(
        "xflag_dax",
        ("file",),
        "journal",
        OFF_ON,
        "FS_XFLAG_DAX on disk: the S_DAX the inode gets when next loaded",
        init=1,
    ),
    FieldSpec(
        "ghost_last",
        ("file", "blk", "seg"),
        "ghost",
        "token",
        "the data last written at this offset (write(2), a store, DMA, reflink, dedupe, "
        "zeroing); what read(2) must return (0 = zeros)",
    ),
)
"""The shipped state fields, in layout order."""

GHOST_FIELDS: dict[str, FieldSpec] = {}
"""Ghost fields declared by users' files (:func:`ghost_field`); every model built after the
declaration has them (all zero unless an action of the user's writes them)."""

WARNINGS: dict[str, str] = {}
"""Kernel WARN messages a transition may reach (:func:`daxcheck.spec.fsdax.warn_on`) ->
where they were declared, in declaration order; the ``i``-th message (from 0) is stored as
``warning == i + 1``."""

VOLATILE_CATEGORIES = frozenset({"meta", "xarray", "pte", "page", "anon", "cache"})

_DIM_NAMES = ("file", "blk", "seg", "tok", "proc", "phys", "thread")


def ghost_field(
    name: str, dims: tuple, kind=None, doc: str = "", domain=None, origin: str = "user"
) -> FieldSpec:
    """Declare a user ghost field (state that only properties read, e.g. "the writer was told
    this range is durable").  ``dims`` from ``file blk seg tok proc phys``; ``kind`` as in
    :class:`FieldSpec` (None: a 0/1 flag unless ``domain`` says otherwise); ``domain``: a
    function of the bounds listing the values.  Declaring the same name again with the same
    shape returns the existing field (a file loaded twice); raises ValueError for a name
    taken by a shipped field or declared with another shape, or an unknown dimension.
    Returns the :class:`FieldSpec`."""
    if any(f.name == name for f in FIELDS):
        raise ValueError(f"ghost field {name!r}: the name is a shipped state field")
    if not name.isidentifier():
        raise ValueError(f"ghost field {name!r}: not a Python identifier")
    if name in _LAYOUT_ATTRS or name.startswith("_"):
        raise ValueError(f"ghost field {name!r}: the name is taken by a Layout attribute")
    dims = tuple(dims)
    bad = [d for d in dims if d not in _DIM_NAMES]
    if bad:
        raise ValueError(
            f"ghost field {name}: unknown dimension {bad[0]!r} (known: {', '.join(_DIM_NAMES)})"
        )
    spec = FieldSpec(name, dims, "ghost", kind, doc or name, domain, 0, origin)
    old = GHOST_FIELDS.get(name)
    if old is not None:
        if (old.dims, old.kind) != (dims, kind):
            raise ValueError(f"ghost field {name} is already declared with dims {old.dims}")
        return old
    GHOST_FIELDS[name] = spec
    return spec


ENUM_MEMBERS = {
    "pblk": ("phys", 0),
    "token": ("tok", 1),
    "promise": ("tok", 2),
    "pgmap": ("file", 1),
    "holder": ("thread", 1),
}
"""Value encodings (the ``enum`` of FIELDS) that name a member of an index dimension: a
value ``v`` names member ``v - offset`` of that dimension when it lies in range; other
values (0 = zeros or NULL, STALE, PG_SHARED, a promise of zeros) name none.  Symmetry
reduction permutes such values together with the indices of that dimension."""


def file_name(f: int) -> str:
    """Display name of file index f: a, b, c."""
    return "abc"[f] if 0 <= f < 3 else str(f)


def token_name(t: int) -> str:
    """Display name of a data token: 0, t1.., stale."""
    return "stale" if t == STALE else ("0" if t == 0 else f"t{t}")


class Layout:
    """Offsets of every field of a state for given bounds.

    For each field (the shipped :data:`FIELDS`, then the users' :data:`GHOST_FIELDS`), an
    attribute of that name holds a nested tuple of offsets indexed like the field's
    dimensions, e.g. ``L.ext_kind[f][x]``, ``L.media[b][seg]``,
    ``L.ghost_written[f][x][seg][t-1]``; a scalar field's attribute is its offset
    (``L.warning``).  ``L.width`` is the number of bytes of a state.  ``L.fields`` lists
    ``(name, dims, category, enum, doc, flat offsets)`` per field; ``L.specs`` the
    :class:`FieldSpec` by name.  ``extra``: the ghost fields to add (default: every
    declared :data:`GHOST_FIELDS` entry).  ``races``: the per-thread and lock fields of a
    race design (:data:`daxcheck.spec.races.RACE_FIELDS`), placed after the shipped fields;
    empty for every other design, whose states stay exactly as they were.
    """

    if TYPE_CHECKING:  # one attribute per field, set in __init__ from the field table

        def __getattr__(self, name: str) -> Any: ...

    sleepers: bool = False
    """A split step of the model may sleep on a wait queue (``th_wq``; set by spec.model)."""

    def __init__(self, bounds: Bounds, extra=None, races=()):
        self.bounds = bounds
        self.nsegs = bounds.segs
        self.dims = {
            "file": bounds.files,
            "blk": bounds.blocks,
            "seg": bounds.segs,
            "tok": bounds.tokens,
            "proc": bounds.procs,
            "phys": bounds.phys,
            "thread": bounds.threads,
        }
        self.races = bool(races)
        self.waits_for = None
        specs = list(FIELDS) + list(races) + list(GHOST_FIELDS.values() if extra is None else extra)
        self._place(specs)
        self._ranges(bounds, races)
        self._index_names()
        self._init = self._initial(specs)

    def _place(self, specs: list) -> None:
        """Give each field of ``specs`` its offsets, in order: the field's attribute (nested
        offsets), ``fields``, ``specs`` and ``width`` (bytes of a state)."""
        self.fields = []  # (name, dims, category, enum, doc, flat offsets)
        self.specs = {}
        off = 0
        for fs in specs:
            shape = [self.dims[d] for d in fs.dims]
            n = 1
            for k in shape:
                n *= k
            flat = tuple(range(off, off + n))
            setattr(self, fs.name, _nest(flat, shape))
            enum = self.warning_names() if fs.kind == "warning" else fs.kind
            self.fields.append((fs.name, fs.dims, fs.category, enum, fs.doc, flat))
            self.specs[fs.name] = fs
            off += n
        self.width = off

    def _ranges(self, bounds: Bounds, races) -> None:
        """The index ranges of the dimensions, their products the transitions loop over, the
        media/cache columns by physical block and the volatile offsets (lost in a crash)."""
        # Columns indexed by physical block, for reads at a pfn taken from the state.
        self.media_col = tuple(
            tuple(self.media[b][g] for b in range(bounds.phys)) for g in range(bounds.segs)
        )
        self.cache_col = tuple(
            tuple(self.cache[b][g] for b in range(bounds.phys)) for g in range(bounds.segs)
        )
        self.files = range(bounds.files)
        self.blks = range(bounds.blocks)
        self.phys = range(bounds.phys)
        self.segs = range(bounds.segs)
        self.toks = range(1, bounds.tokens + 1)
        self.procs = range(bounds.procs)
        self.threads = range(bounds.threads) if races else range(0)
        self.file_blks = tuple(itertools.product(self.files, self.blks))
        self.file_blk_segs = tuple(itertools.product(self.files, self.blks, self.segs))
        self.volatile = tuple(
            o for (_, _, cat, _, _, flat) in self.fields if cat in VOLATILE_CATEGORIES for o in flat
        )

    def _index_names(self) -> None:
        """Offset -> (field, dims, index) and field -> value encoding, for labels."""
        self._names = {}
        self._enum = {}
        for name, dims, _, enum, _, flat in self.fields:
            idxs = itertools.product(*[range(self.dims[d]) for d in dims])
            for o, ix in zip(flat, idxs):
                self._names[o] = (name, dims, ix)
            self._enum[name] = enum

    def _initial(self, specs: list) -> bytes:
        """The initial state's bytes: each field's ``init``, media STALE."""
        init = bytearray(self.width)
        for fs in specs:
            if fs.init:
                for o in self.flat(fs.name):
                    init[o] = fs.init
        for b in self.phys:
            for g in self.segs:
                init[self.media[b][g]] = STALE
        return bytes(init)

    @staticmethod
    def warning_names() -> tuple:
        """Display names of the ``warning`` field's values: "none", then each declared
        kernel WARN message."""
        return ("none",) + tuple(WARNINGS)

    def byte_range(self, offset: int, length: int) -> tuple[int, int, int]:
        """:func:`daxcheck.spec.segments.byte_range` of this layout's bounds: ``(idx, lo,
        hi)`` of a byte range of a file; BoundsError when it is not whole segments."""
        found = byte_range(self.bounds, offset, length)
        if isinstance(found, str):
            raise BoundsError(found)
        return found

    def flat(self, name: str) -> tuple:
        """Every offset of field ``name``, in layout order (KeyError if there is none)."""
        for f in self.fields:
            if f[0] == name:
                return f[5]
        raise KeyError(name)

    def init_state(self) -> bytes:
        """The state after mkfs + creating the files: empty files (size 0, all holes),
        nothing mapped, caches clean, media holding STALE contents from before mkfs, every
        inode with S_DAX (fsdax mount)."""
        return self._init

    def field_at(self, offset: int):
        """(field name, dimension names, index tuple) of a flat offset."""
        return self._names[offset]

    def label(self, offset: int) -> str:
        """Human-readable name of one offset, e.g. ``ext_kind[a,0]``, ``media[p1.s0]``."""
        name, dims, ix = self._names[offset]
        if not dims:
            return name
        return f"{name}[{','.join(fmt_index(d, i) for d, i in zip(dims, ix))}]"

    def show(self, offset: int, value: int) -> str:
        """Human-readable value of the field at ``offset``."""
        name = self._names[offset][0]
        enum = self._enum[name]
        if isinstance(enum, tuple):
            return enum[value] if value < len(enum) else str(value)
        if enum == "pblk":
            return f"p{value}"
        if enum == "token":
            return token_name(value)
        if enum == "promise":
            return "-" if value == 0 else token_name(value - 1)
        if enum == "pgmap":
            return (
                "NULL"
                if value == PG_NULL
                else ("SHARED" if value == PG_SHARED else file_name(value - 1))
            )
        if enum == "file":
            return file_name(value)
        if enum == "holder":
            return "-" if value == 0 else f"T{value - 1}"
        return str(value)

    def to_record(self, s: bytes) -> dict:
        """The state as ``{field: nested lists of ints}`` (ITF record values)."""
        out = {}
        for name, dims, _, _, _, flat in self.fields:
            shape = [self.dims[d] for d in dims]
            out[name] = _nest_list([s[o] for o in flat], shape)
        return out

    def from_record(self, rec: dict) -> bytes:
        """Inverse of :meth:`to_record`; raises KeyError/ValueError on a malformed record."""
        d = bytearray(self.width)
        for name, dims, _, _, _, flat in self.fields:
            shape = [self.dims[x] for x in dims]
            vals = _flatten(rec[name], shape, name)
            for o, v in zip(flat, vals):
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 255:
                    raise ValueError(f"field {name} holds {v!r}, not an int in 0..255")
                d[o] = v
        return bytes(d)


_LAYOUT_ATTRS = frozenset(dir(Layout)) | {
    "bounds",
    "nsegs",
    "dims",
    "fields",
    "specs",
    "width",
    "media_col",
    "cache_col",
    "files",
    "blks",
    "phys",
    "segs",
    "toks",
    "procs",
    "file_blks",
    "file_blk_segs",
    "volatile",
    "races",
    "threads",
    "waits_for",
}


def fmt_index(dim: str, i: int) -> str:
    """The display name of index ``i`` along dimension ``dim`` of a state variable
    (``file`` -> the file name, ``phys`` -> ``p<i>``, ``seg`` -> ``s<i>``, ``tok`` ->
    ``t<i+1>``, ``proc`` -> ``P<i>``, ``thread`` -> ``T<i>``, otherwise ``str(i)``)."""
    if dim == "file":
        return file_name(i)
    if dim == "phys":
        return f"p{i}"
    if dim == "seg":
        return f"s{i}"
    if dim == "tok":
        return f"t{i + 1}"
    if dim == "proc":
        return f"P{i}"
    if dim == "thread":
        return f"T{i}"
    return str(i)


_fmt_index = fmt_index  # the old private name, kept for callers outside the tree


def _nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return tuple(flat)
    step = len(flat) // shape[0]
    return tuple(_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0]))


def _nest_list(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_nest_list(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(v, shape, name):
    if not shape:
        return [v]
    if not isinstance(v, list) or len(v) != shape[0]:
        raise ValueError(f"field {name} has the wrong shape (expected {shape[0]} entries)")
    out = []
    for e in v:
        out.extend(_flatten(e, shape[1:], name))
    return out


def field_domain(L: Layout, offset: int) -> tuple[int, ...]:
    """The values field ``offset`` of layout ``L`` can hold in any state the transitions
    produce (a sound over-approximation used by the symbolic engine to constrain arbitrary
    states; the k-induction prover re-proves it, so a too-narrow domain is reported, not
    trusted).  Returns a sorted tuple of ints in 0..255, from the field's
    :class:`FieldSpec` (its ``domain``, else its kind).  Raises KeyError for an offset
    outside the layout."""
    name = L.field_at(offset)[0]
    return L.specs[name].values(L.bounds)

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
from dataclasses import dataclass, fields as dc_fields

SEGS = 2
"""Segments per block: the granule of partial writes (2 segments of 2 KiB per 4 KiB block)."""

# Extent kinds (the file's block map, struct xfs_bmbt_irec / ext4_extent state).
HOLE, UNWRITTEN, WRITTEN = 0, 1, 2
EXT_NAMES = ("hole", "unwritten", "written")

# DAX xarray entry kinds (fs/dax.c: empty, DAX_ZERO_PAGE entry, pfn entry).
XA_EMPTY, XA_ZERO, XA_PFN = 0, 1, 2
XA_NAMES = ("empty", "zero", "pfn")

# Page-table entry kinds for one 4 KiB file page in one mmap.
PTE_NONE, PTE_RO, PTE_RW, PTE_ZERO = 0, 1, 2, 3
PTE_NAMES = ("none", "ro", "rw", "zero")

# mmap modes: not mapped, MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC.
MM_NONE, MM_SHARED, MM_SYNC = 0, 1, 2
MM_NAMES = ("none", "shared", "shared+sync")

# page->mapping of a pmem page: NULL, the address_space of file f (encoded f+1),
# or PAGE_MAPPING_DAX_SHARED (5.19+, mm/dax.c) which defers owners to page->share.
PG_NULL = 0
PG_SHARED = 255

# Data tokens: 0 = zeros, 1..T = data written by userspace, STALE = media contents that
# no file of this filesystem wrote (pmem is not zeroed by mkfs or by CoW-fork allocation).
ZERO_TOKEN = 0
STALE = 254  # so that a durability promise (token + 1) still fits in a byte


class BoundsError(ValueError):
    """A bound is outside the range the model supports; the message names it."""


@dataclass(frozen=True)
class Bounds:
    """Sizes of the finite domains (TLA+ .cfg constants).

    files:  number of inodes (1..3), named a, b, c.
    blocks: file blocks per file, each 4 KiB (1..3); also the PMD size in blocks.
    phys:   physical pmem blocks of the filesystem (1..6).
    tokens: distinct userspace data tokens (1..3).
    procs:  processes, each may mmap each file once (1..2).
    depth:  maximum number of actions in a trace (0..60).
    Raises BoundsError from :meth:`validate`.
    """

    files: int = 2
    blocks: int = 1
    phys: int = 2
    tokens: int = 1
    procs: int = 1
    depth: int = 8

    LIMITS = {"files": (1, 3), "blocks": (1, 3), "phys": (1, 6), "tokens": (1, 3),
              "procs": (1, 2), "depth": (0, 60)}

    def validate(self) -> "Bounds":
        """Return self, or raise BoundsError naming the first bound out of range."""
        for f in dc_fields(self):
            lo, hi = self.LIMITS[f.name]
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise BoundsError(f"bound {f.name}={v!r} is out of range {lo}..{hi}")
        return self

    def replace(self, **kw) -> "Bounds":
        """A copy with the given bounds changed (None values ignored), validated."""
        d = {f.name: getattr(self, f.name) for f in dc_fields(self)}
        d.update({k: v for k, v in kw.items() if v is not None})
        return Bounds(**d).validate()

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


# Each field: name, index dimensions, category, display enum, meaning.
# Categories: meta (in-memory metadata), journal (persistent metadata), xarray, pte,
# page (struct page of a pmem pfn), cache (volatile CPU cache), media (pmem), ghost.
FIELDS = (
    ("size", ("file",), "meta", None, "i_size in blocks"),
    ("jsize", ("file",), "journal", None, "i_size as persisted in the log"),
    ("sealed", ("file",), "journal", None, "S_IOMAP_IMMUTABLE: block map sealed (2017 proposal)"),
    ("usync", ("file",), "meta", None, "inode in userspace-sync (MAP_SYNC) mode"),
    ("pmd_zero", ("file",), "xarray", None, "a PMD zero-page entry covers indices 0..blocks-1"),
    ("ext_kind", ("file", "blk"), "meta", EXT_NAMES, "in-memory extent state"),
    ("ext_pblk", ("file", "blk"), "meta", "pblk", "in-memory extent physical block"),
    ("jext_kind", ("file", "blk"), "journal", EXT_NAMES, "journaled extent state"),
    ("jext_pblk", ("file", "blk"), "journal", "pblk", "journaled extent physical block"),
    ("xa_kind", ("file", "blk"), "xarray", XA_NAMES, "DAX xarray entry"),
    ("xa_pfn", ("file", "blk"), "xarray", "pblk", "pfn of a pfn entry"),
    ("xa_dirty", ("file", "blk"), "xarray", None, "PAGECACHE_TAG_DIRTY on the entry"),
    ("mmap_mode", ("proc", "file"), "pte", MM_NAMES, "the process's mapping of the file"),
    ("pte_kind", ("proc", "file", "blk"), "pte", PTE_NAMES, "page-table entry"),
    ("pte_pfn", ("proc", "file", "blk"), "pte", "pblk", "pfn the PTE maps"),
    ("refcount", ("phys",), "meta", None, "extent references (refcount btree; 0 = free)"),
    ("page_mapping", ("phys",), "page", "pgmap", "page->mapping"),
    ("page_index", ("phys",), "page", None, "page->index"),
    ("page_share", ("phys",), "page", None, "page->share (6.2 fsdax reflink)"),
    ("cache", ("phys", "seg"), "cache", "token", "dirty CPU cache line contents (0 = clean)"),
    ("media", ("phys", "seg"), "media", "token", "persisted pmem contents"),
    ("ghost_written", ("file", "blk", "seg", "tok"), "ghost", None,
     "token was ever written at this file offset (or inherited by reflink); monotonic"),
    ("ghost_durable", ("file", "blk", "seg"), "ghost", "promise",
     "token promised durable at this offset by a sync (0 = no promise, else token+1)"),
    ("ghost_seal_pblk", ("file", "blk"), "ghost", "pblk", "physical block when sealed"),
)

VOLATILE_CATEGORIES = frozenset({"meta", "xarray", "pte", "page", "cache"})

ENUM_MEMBERS = {"pblk": ("phys", 0), "token": ("tok", 1), "promise": ("tok", 2),
                "pgmap": ("file", 1)}
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

    For each field in FIELDS, an attribute of that name holds a nested tuple of offsets
    indexed like the field's dimensions, e.g. ``L.ext_kind[f][x]``, ``L.media[b][seg]``,
    ``L.ghost_written[f][x][seg][t-1]``.  ``L.width`` is the number of bytes of a state.
    """

    def __init__(self, bounds: Bounds):
        self.bounds = bounds
        self.dims = {"file": bounds.files, "blk": bounds.blocks, "seg": SEGS,
                     "tok": bounds.tokens, "proc": bounds.procs, "phys": bounds.phys}
        self.fields = []          # (name, dims, category, enum, doc, flat offsets)
        off = 0
        for name, dims, cat, enum, doc in FIELDS:
            shape = [self.dims[d] for d in dims]
            n = 1
            for k in shape:
                n *= k
            flat = tuple(range(off, off + n))
            setattr(self, name, _nest(flat, shape))
            self.fields.append((name, dims, cat, enum, doc, flat))
            off += n
        self.width = off
        # Columns indexed by physical block, for reads at a pfn taken from the state.
        self.media_col = tuple(tuple(self.media[b][g] for b in range(bounds.phys))
                               for g in range(SEGS))
        self.cache_col = tuple(tuple(self.cache[b][g] for b in range(bounds.phys))
                               for g in range(SEGS))
        self.files = range(bounds.files)
        self.blks = range(bounds.blocks)
        self.phys = range(bounds.phys)
        self.segs = range(SEGS)
        self.toks = range(1, bounds.tokens + 1)
        self.procs = range(bounds.procs)
        self.file_blks = tuple(itertools.product(self.files, self.blks))
        self.file_blk_segs = tuple(itertools.product(self.files, self.blks, self.segs))
        self.volatile = tuple(o for (_, _, cat, _, _, flat) in self.fields
                              if cat in VOLATILE_CATEGORIES for o in flat)
        self._names = {}
        for name, dims, _, _, _, flat in self.fields:
            idxs = itertools.product(*[range(self.dims[d]) for d in dims])
            for o, ix in zip(flat, idxs):
                self._names[o] = (name, dims, ix)

    def init_state(self) -> bytes:
        """The state after mkfs + creating the files: empty files (size 0, all holes),
        nothing mapped, caches clean, media holding STALE contents from before mkfs."""
        d = bytearray(self.width)
        for b in self.phys:
            for g in self.segs:
                d[self.media[b][g]] = STALE
        return bytes(d)

    def field_at(self, offset: int):
        """(field name, dimension names, index tuple) of a flat offset."""
        return self._names[offset]

    def label(self, offset: int) -> str:
        """Human-readable name of one offset, e.g. ``ext_kind[a,0]``, ``media[p1.s0]``."""
        name, dims, ix = self._names[offset]
        return f"{name}[{','.join(_fmt_index(d, i) for d, i in zip(dims, ix))}]"

    def show(self, offset: int, value: int) -> str:
        """Human-readable value of the field at ``offset``."""
        name = self._names[offset][0]
        enum = next(f[3] for f in self.fields if f[0] == name)
        if isinstance(enum, tuple):
            return enum[value] if value < len(enum) else str(value)
        if enum == "pblk":
            return f"p{value}"
        if enum == "token":
            return token_name(value)
        if enum == "promise":
            return "-" if value == 0 else token_name(value - 1)
        if enum == "pgmap":
            return "NULL" if value == PG_NULL else (
                "SHARED" if value == PG_SHARED else file_name(value - 1))
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


def _fmt_index(dim: str, i: int) -> str:
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
    return str(i)


def _nest(flat, shape):
    if len(shape) == 1:
        return tuple(flat)
    step = len(flat) // shape[0]
    return tuple(_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0]))


def _nest_list(flat, shape):
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_nest_list(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(v, shape, name):
    if not shape:
        return [v]
    if not isinstance(v, list) or len(v) != shape[0]:
        raise ValueError(f"field {name} has the wrong shape (expected {shape[0]} entries)")
    out = []
    for e in v:
        out.extend(_flatten(e, shape[1:], name))
    return out


def field_domain(L: "Layout", offset: int) -> tuple[int, ...]:
    """The values field ``offset`` of layout ``L`` can hold in any state the transitions
    produce (a sound over-approximation used by the symbolic engine to constrain arbitrary
    states; the k-induction prover re-proves it, so a too-narrow domain is reported, not
    trusted).  Returns a sorted tuple of ints in 0..255.  Raises KeyError for an offset
    outside the layout."""
    name = L.field_at(offset)[0]
    b = L.bounds
    extents = b.files * b.blocks
    toks = tuple(range(b.tokens + 1))
    if name in ("size", "jsize"):
        return tuple(range(b.blocks + 1))
    if name in ("sealed", "usync", "pmd_zero", "xa_dirty", "ghost_written"):
        return (0, 1)
    if name in ("ext_kind", "jext_kind"):
        return (HOLE, UNWRITTEN, WRITTEN)
    if name in ("ext_pblk", "jext_pblk", "xa_pfn", "pte_pfn", "ghost_seal_pblk"):
        return tuple(range(b.phys))
    if name == "xa_kind":
        return (XA_EMPTY, XA_ZERO, XA_PFN)
    if name == "mmap_mode":
        return (MM_NONE, MM_SHARED, MM_SYNC)
    if name == "pte_kind":
        return (PTE_NONE, PTE_RO, PTE_RW, PTE_ZERO)
    if name in ("refcount", "page_share"):
        return tuple(range(extents + 1))
    if name == "page_mapping":
        return (PG_NULL,) + tuple(range(1, b.files + 1)) + (PG_SHARED,)
    if name == "page_index":
        return tuple(range(b.blocks))
    if name == "cache":
        return toks  # only stores (tokens 1..T) dirty a line; 0 is clean
    if name == "media":
        return toks + (STALE,)
    if name == "ghost_durable":
        return (0,) + tuple(t + 1 for t in toks) + (STALE + 1,)
    raise KeyError(f"field {name} has no domain")  # pragma: no cover - every field is listed

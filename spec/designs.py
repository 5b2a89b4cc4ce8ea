"""Designs: named variants of the fsdax kernel, each taken from a seed thread or from the
kernel's history.

A :class:`Design` is the kernel as a set of *hooks*: one method per kernel function the
spec models.  Each modelled kernel function is defined once, in the :mod:`daxcheck.spec.kernel`
module named after its kernel source file, under its kernel name (``dax_insert_entry``,
``dax_iomap_pte_fault``, ``dax_writeback_one``, ``xfs_reflink_end_cow``, ``xfs_log_force``,
``xlog_recover`` ...), and installed here as the ``Design`` method of that name; the hooks
that are design decisions with no single kernel function (lock behaviour, the userspace
flush contract) are defined in the class.  Every call site goes through ``D.<hook>(...)``,
so a user's subclass overriding one hook changes that kernel step everywhere: in the
explicit engine, in the Z3 engine and in the byte-level replay.  Hooks are written in the
vocabulary (they may get symbolic state); ``daxcheck list hooks`` prints them with their
kernel source.

*Settings* are sugar for the common variants (each selects a body inside one or two
hooks), and the design's *scope* (``families`` explored, default ``bounds``) is its TLA+
``.cfg``.  The default of every setting is the merged-kernel (6.x) behaviour.
``expect_violated`` is the exact set of properties the design violates at its default
bounds, compared with what exploration computes by ``check --expect``, ``daxcheck gate`` and
the tests; ``cite`` names the commit, thread or xfstest the design comes from.

The shipped designs are elsewhere, registered in a fixed order by :mod:`.catalog`: the seed
designs in :mod:`.seeds`, the history, race and coverage designs in their modules.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import InitVar, dataclass, field

from . import locks
from .kernel.dax import PMD_MKCLEAN_DOC
from .kernel.registry import KernelHooks, hook_rows
from .kernel.views import pmd_ptes_none
from .kernel.warn import declare_module_warnings, declare_warnings_of
from .ops import ACTIONS, ALL_FAMILIES
from .ops.races import SPLIT_FAMILIES
from .renamed import renamed_settings, warn_renamed
from .state import MM_SYNC, PTE_RW, Bounds
from .vocab import And, Not, Or

DESIGNS: dict[str, Design] = {}


class DesignError(ValueError):
    """An invalid design definition (unknown setting value, unknown action family)."""


def hook(fn):
    """Mark a :class:`Design` method as a kernel hook (listed by ``daxcheck list hooks``).
    The docstring's first line names the kernel function modelled."""
    fn.__daxcheck_hook__ = True
    return fn


def setting(default, choices: tuple, doc: str, *, race: bool = False):
    """Declare a :class:`Design` setting once: its ``default``, the allowed values
    (``choices``; ``(False, True)`` for a flag), what each value means (``doc``, shown by
    :func:`settings_doc`) and whether it is a lock-discipline setting that matters only in
    a race design (``race``).  Returns the dataclass field; :data:`SETTINGS` collects them
    and ``Design.__post_init__`` validates a design's values against them (DesignError)."""
    return field(default=default, metadata={"choices": tuple(choices), "doc": doc, "race": race})


@dataclass(frozen=True)
class Design(KernelHooks):
    """One design variant: a name, where it comes from, its scope, and the kernel as hooks.

    Settings (strings so they show in traces, or flags; each selects the body of one or two
    hooks) are declared once each, with :func:`setting` (default, allowed values, meaning):
    :data:`SETTINGS` and :func:`settings_doc` list them; the lock-discipline settings
    (``race=True``) matter only in race designs (issue 11; :mod:`~daxcheck.spec.ops.races`).
    Scope: ``families`` explored, default ``bounds``.
    ``symmetric``: index dimensions whose members the design treats alike (Murphi
    scalarsets, TLC symmetry sets), used by ``check --symmetry``: files, processes and data
    tokens.  Physical blocks are not: the allocator hands out the lowest free block
    (xfs_bmap_btalloc).  The explorer verifies the claim on every transition and property
    it evaluates and explores without the reduction when it does not hold.
    ``expect_violated``: exactly the shipped properties this design violates at its default
    bounds (empty = every property holds); ``check --expect`` and ``daxcheck gate`` fail when
    the computed set differs in either direction.  ``cite``: commit / thread / xfstest.
    """

    name: str
    seed: str
    summary: str
    families: tuple = ALL_FAMILIES
    bounds: Bounds = field(default_factory=Bounds)
    expect_violated: frozenset = frozenset()
    cite: str = ""
    page_owner: str = setting(
        "shared-count",
        ("shared-count", "single-owner"),
        '"shared-count" (6.2 page->share) | "single-owner" (before 5.19)',
    )
    reflink: str = setting(
        "allowed",
        ("allowed", "refused"),
        '"allowed" | "refused" (XFS: "DAX and reflink cannot be used together")',
    )
    seal: str = setting(
        "none",
        ("none", "reflink-allowed", "no-reflink"),
        '"none" | "reflink-allowed" (sealed files may be reflink sources and CoW) | '
        '"no-reflink" (sealed files refuse reflink and CoW)',
    )
    seal_checks: str = setting(
        "all",
        ("all", "no-shift"),
        '"all" (a sealed inode refuses every block-map change) | "no-shift" '
        "(collapse/insert range are not checked)",
    )
    cow: str = setting(
        "srcmap",
        ("srcmap", "single-iomap"),
        '"srcmap" (iomap srcmap, dax_iomap_copy_around) | "single-iomap"',
    )
    cow_edges: str = setting(
        "zeroed",
        ("zeroed", "stale"),
        '"zeroed" (a hole/unwritten CoW source is zeroed around the write, 2022) | '
        '"stale" (skipped for a hole, copied raw for unwritten)',
    )
    cow_fork: str = setting(
        "reflink",
        ("reflink", "always"),
        '"reflink" (only shared extents are CoW\'d) | "always" (XFS always_cow)',
    )
    fault_cow: str = setting(
        "copy",
        ("copy", "in-place"),
        '"copy" (a write fault on a shared extent CoWs it, 5.19) | "in-place" (before '
        "5.19 the DAX fault path ignored IOMAP_F_SHARED)",
    )
    read_shared: str = setting(
        "reported",
        ("reported", "not-reported"),
        '"reported" (read faults get IOMAP_F_SHARED, 6.2) | "not-reported"',
    )
    hole_size: str = setting(
        "iomap",
        ("iomap", "unknown"),
        '"iomap" (true hole length) | "unknown" (get_block leaves b_size)',
    )
    flush_durable_mode: str = setting(
        "map-sync",
        ("map-sync", "any"),
        '"map-sync" (only MAP_SYNC or sealed mappings) | "any" (daxfile: every userspace '
        "flush is a durability point, metadata not synced)",
    )
    mmap_map_sync: bool = setting(
        default=True,
        choices=(False, True),
        doc="MAP_SYNC accepted by ->mmap (mmap_supported_flags)",
    )
    sync_fault: str = setting(
        "iomap-dirty",
        ("iomap-dirty", "never"),
        '"iomap-dirty" (dax_fault_is_synchronous: a MAP_SYNC write fault with IOMAP_F_DIRTY '
        'fsyncs before the PTE is writable) | "never"',
    )
    iomap_dirty: str = setting(
        "pinned",
        ("pinned", "new"),
        '"pinned" (IOMAP_F_DIRTY while the inode has unlogged metadata, xfs_ipincount) | '
        '"new" (only when this ->iomap_begin allocated)',
    )
    usync_mode: bool = setting(
        default=False,
        choices=(False, True),
        doc="MAP_SYNC puts the whole inode into userspace-sync mode, which stops dirty tracking "
        "for every mapping (the mixed mode Chinner warns about)",
    )
    shared_check: str = setting(
        "in-core+journal",
        ("in-core+journal", "in-core"),
        '"in-core+journal" (a block still referenced by another inode\'s journaled map '
        'counts as shared, so it is CoW\'d, not overwritten in place) | "in-core" (the '
        "in-core refcount btree alone decides)",
    )
    new_invalidate: str = setting(
        "always",
        ("always", "faults-only"),
        '"always" (write(2) over an IOMAP_F_NEW mapping invalidates the range, 4.12) | '
        '"faults-only"',
    )
    pmd_conflict: str = setting(
        "xas_find_conflict",
        ("xas_find_conflict", "index-only"),
        '"xas_find_conflict" (a PMD entry only over an empty range) | "index-only" (only '
        "the PMD-aligned index is looked up)",
    )
    private_pmd_split: str = setting(
        "split",
        ("split", "none"),
        '"split" (a MAP_PRIVATE write fault splits the PMD mapping first) | "none"',
    )
    pmd_mkclean: str = setting("wrprotect", ("wrprotect", "pte-only"), PMD_MKCLEAN_DOC)
    dedupe_compare: str = setting(
        "lockstep",
        ("lockstep", "stale-srcmap", "raw-media", "stale-raw-media"),
        '"lockstep" | "stale-srcmap" (the source iterator does not advance) | '
        '"raw-media" (6.12\'s dax_range_compare_iter: two holes are the same, a hole and an '
        "extent differ, any other pair compares the raw pmem bytes, also of an unwritten "
        "extent, which reads as zeros)",
    )
    break_layouts: str = setting(
        "wait",
        ("wait", "none"),
        '"wait" (punch/truncate wait for pinned pages, dax_layout_busy_page) | "none"',
    )
    dax_toggle: str = setting(
        "on-evict",
        ("on-evict", "immediate"),
        '"on-evict" (FS_XFLAG_DAX takes effect when the inode is evicted, 5.8) | '
        '"immediate" (S_DAX flips under live mappings)',
    )
    fsync_log_force: str = setting(
        "if-pinned",
        ("if-pinned", "always"),
        '"if-pinned" (xfs_file_fsync forces the log only while the inode has metadata not '
        "yet in it, xfs_ipincount; xfs_log_force_seq of its ili_commit_seq pushes the whole "
        'current CIL checkpoint) | "always" (every fsync forces the whole log, the spec '
        "before the real-DAX oracle showed fdatasync of a clean file leaves another file's "
        "new size out of the log)",
    )
    reflink_dax: str = setting(
        "kept",
        ("kept", "dropped-on-load"),
        '"kept" (a reflinked inode keeps S_DAX when it is read back from disk, v6.3 \'xfs: '
        'remove restrictions for fsdax and reflink\') | "dropped-on-load" '
        "(xfs_inode_supports_dax refuses inodes with XFS_DIFLAG2_REFLINK when they are "
        "loaded: 6.1; modelled as: a file sharing a block after log recovery comes back "
        "without S_DAX; found by the real-DAX oracle on 6.1)",
    )
    partial_writes: bool = setting(
        default=True,
        choices=(False, True),
        doc="write(2) of part of a block is explored (unaligned writes)",
    )
    pmd_pfn_entries: bool = setting(
        default=False,
        choices=(False, True),
        doc="PMD faults over written PMD-aligned extents map pfn PMDs",
    )
    mmaplock: str = setting(
        "fault+truncate",
        ("fault+truncate", "none"),
        '"fault+truncate" (page faults take XFS_MMAPLOCK_SHARED, truncate and punch '
        "XFS_MMAPLOCK_EXCL: 4.1 'xfs: introduce mmap/truncate lock') | \"none\"",
        race=True,
    )
    fault_entry_lock: str = setting(
        "before-iomap",
        ("before-iomap", "after-iomap"),
        '"before-iomap" (the DAX entry is locked before ->iomap_begin, 2017 \'dax: Fix data '
        'corruption when fault races with write\') | "after-iomap"',
        race=True,
    )
    fault_pmd_recheck: str = setting(
        "recheck",
        ("recheck", "none"),
        '"recheck" (PTE and PMD faults recheck the PMD under the entry lock, 2017 \'dax: Fix '
        'race between colliding PMD & PTE entries\') | "none"',
        race=True,
    )
    layout_break: str = setting(
        "unmap-drop-retry",
        ("unmap-drop-retry", "no-unmap", "hold-mmaplock"),
        '"unmap-drop-retry" (dax_layout_busy_page unmaps first; the wait drops MMAPLOCK and '
        "retries, 4.19 'xfs, dax: introduce xfs_break_dax_layouts()') | \"no-unmap\" (pins "
        'checked with the mapping left in place) | "hold-mmaplock" (the wait keeps '
        "MMAPLOCK)",
        race=True,
    )
    mkwrite_entry_lock: str = setting(
        "held",
        ("held", "none"),
        '"held" (a write fault on a read-only PTE holds the DAX entry lock from tagging the '
        "entry dirty until the PTE is writable, 2016 'dax: Protect PTE modification on WP "
        'fault by radix tree entry lock\') | "none"',
        race=True,
    )
    symmetric: tuple = ("file", "proc", "tok")
    map_sync: InitVar[bool | None] = None  # renamed mmap_map_sync in 0.2 (spec/renamed.py)

    def __post_init__(self, map_sync=None):
        if map_sync is not None:
            object.__setattr__(self, warn_renamed(self.name, "map_sync"), map_sync)
        for key, meta in SETTINGS.items():
            value, allowed = getattr(self, key), meta["choices"]
            if allowed == (False, True):
                if not isinstance(value, bool):
                    raise DesignError(f"design {self.name}: {key} must be True or False")
            elif value not in allowed:
                raise DesignError(
                    f"design {self.name}: {key}={value!r} is not one of {', '.join(allowed)}"
                )
        bad = [f for f in self.families if f not in ACTIONS]
        if bad:
            raise DesignError(
                f"design {self.name}: unknown action famil{'y' if len(bad) == 1 else 'ies'} "
                f"{', '.join(bad)}"
            )
        self.bounds.validate()

    _OLD_HOOKS = {
        "associate": "dax_associate_entry",
        "disassociate": "dax_disassociate_entry",
        "cow_fill": "dax_iomap_copy_around",
        "hole_length": "iomap_hole_length",
        "flush_durable": "userspace_flush_durable",
        "tracks_dirty": "dax_mark_dirty",
        "reflink_allowed": "xfs_reflink_remap_prep",
    }

    def __init_subclass__(cls, **kw):
        """A subclass overriding a hook by its name before the hooks were named after the
        kernel functions (``associate``, ``cow_fill``, ``hole_length``, ``flush_durable``,
        ``tracks_dirty``, ``reflink_allowed``, ``cow_allowed``) overrides that hook."""
        super().__init_subclass__(**kw)
        if "dax_mark_dirty" in cls.__dict__ or "tracks_dirty" in cls.__dict__:
            warnings.warn(
                f"{cls.__name__}: the dax_mark_dirty hook is deprecated (dax_insert_entry "
                f"decides the dirty tag, as in the kernel); still honoured in this "
                f"release",
                DeprecationWarning,
                stacklevel=2,
            )
        for old, new in cls._OLD_HOOKS.items():
            if old in cls.__dict__ and new not in cls.__dict__:
                setattr(cls, new, lambda self, *a, _old=old: getattr(self, _old)(*a))
        if "cow_allowed" in cls.__dict__ and "is_iomap_immutable" not in cls.__dict__:
            base = cls.is_iomap_immutable

            def immutable(self, L, s, f, op, _base=base):
                if op == "cow":
                    return Not(self.cow_allowed(L, s, f))
                return _base(self, L, s, f, op)

            cls.is_iomap_immutable = immutable

    def variant(self, **changes) -> Design:
        """A copy with some settings changed (e.g. a user's variant of a shipped design).
        Raises DesignError for an unknown setting.  A renamed setting (``map_sync``) is taken
        under its new name with a DeprecationWarning (:mod:`~daxcheck.spec.renamed`)."""
        changes = renamed_settings(self.name, changes)
        names = {f.name for f in dataclasses.fields(self)}
        bad = [c for c in changes if c not in names]
        if bad:
            raise DesignError(f"design {self.name}: unknown setting {bad[0]!r}")
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """The kernel-decision settings as a dict (for reports and ITF #meta): the valued
        settings then the flags, each in declaration order; the lock discipline settings
        only for a race design (:attr:`threaded`)."""
        keys = [k for k, meta in SETTINGS.items() if meta["choices"] != (False, True)] + [
            k for k, meta in SETTINGS.items() if meta["choices"] == (False, True)
        ]
        return {
            key: getattr(self, key) for key in keys if self.threaded or not SETTINGS[key]["race"]
        }

    def has(self, family: str) -> bool:
        """The family is in this design's scope (mechanisms a design leaves out cost
        nothing: their branches are not built)."""
        return family in self.families

    @property
    def threaded(self) -> bool:
        """A race design: a split operation (:data:`~daxcheck.spec.races.SPLIT_FAMILIES`)
        is in scope, so states carry threads and locks."""
        return any(f in SPLIT_FAMILIES for f in self.families)

    @property
    def private_mappings(self) -> bool:
        """MAP_PRIVATE mappings are explored (``mmap_private`` in scope)."""
        return self.has("mmap_private")

    # ================================================================ deprecated
    def dax_mark_dirty(self, L, s, f):
        """Deprecated (0.2; kept for one release, not a hook any more): whether a write
        fault may tag its entry PAGECACHE_TAG_DIRTY.  The kernel decides that inside
        dax_insert_entry (``dirty = write && !dax_fault_is_synchronous``,
        :func:`~daxcheck.spec.kernel.dax.dax_insert_entry`), which still asks this method,
        so an override keeps working (with a DeprecationWarning when its class is defined).
        The default is the hypothetical userspace-sync mode of seed 004 (``usync_mode``):
        no dirty tracking for an inode in that mode."""
        if self.usync_mode:
            return s[L.usync[f]] == 0
        return True

    # ================================================================ locks (issue 11)
    @hook
    def xfs_ilock_iolock(self, op):
        """xfs_ilock(XFS_IOLOCK_EXCL), the inode's ``i_rwsem``, for ``op`` "write"
        (xfs_file_dax_write), "punch" (xfs_file_fallocate, held across
        xfs_break_layouts and xfs_free_file_space) and "truncate" (xfs_vn_setattr_size);
        XFS_IOLOCK_SHARED for "read" (xfs_file_dax_read).  Every modelled kernel takes it;
        a variant returning False drops it (two hole punches, or a write(2) and a punch,
        then run at once)."""
        return True

    @hook
    def atomic_op_locks(self, L, a) -> tuple:
        """The locks the atomic (not split) action ``a`` takes and drops within its one step
        in a race design (xfs_ilock in fs/xfs/xfs_file.c, the DAX entry locks of fs/dax.c):
        a tuple of :class:`~daxcheck.spec.locks.Need` with ``me=None``; by default
        :func:`daxcheck.spec.locks.atomic_op_locks`.  Override it to give an atomic
        operation (a user's too) its locks."""
        return locks.atomic_op_locks(self, L, a)

    @hook
    def xfs_ilock_mmaplock(self, op):
        """xfs_ilock(XFS_MMAPLOCK_SHARED) in xfs_filemap_fault for ``op`` "fault", and
        XFS_MMAPLOCK_EXCL in xfs_setattr_size / xfs_file_fallocate for "truncate" and
        "punch" (the invalidate_lock since 5.15): whether ``op`` takes it (``mmaplock``;
        before 4.1 'xfs: introduce mmap/truncate lock' nothing serialised faults against
        truncate)."""
        return self.mmaplock == "fault+truncate"

    @hook
    def dax_fault_grab_entry_first(self):
        """dax_iomap_pte_fault: grab_mapping_entry locks the DAX entry before
        ->iomap_begin, so a racing write(2)'s invalidation waits for the fault (2017 'dax:
        Fix data corruption when fault races with write'); "after-iomap": the block is
        looked up first and the entry locked only to insert."""
        return self.fault_entry_lock == "before-iomap"

    @hook
    def dax_pte_fault_pmd_collision(self, L, s, n, f):
        """dax_iomap_pte_fault under the entry lock: ``pmd_trans_huge(*vmf->pmd) ||
        pmd_devmap(*vmf->pmd)``: a PMD was installed since handle_pte_fault looked, so the
        fault returns VM_FAULT_NOPAGE (2017 'dax: Fix race between colliding PMD & PTE
        entries', generic/437); "none": not rechecked."""
        if self.fault_pmd_recheck == "none":
            return False
        return s[L.pmd_map[n][f]] == 1

    @hook
    def dax_pmd_fault_pte_collision(self, L, s, n, f):
        """dax_iomap_pmd_fault under the entry lock: ``!pmd_none(*vmf->pmd)`` and not a
        huge PMD: a PTE table appeared since the fault took the huge path, so it falls back
        (same commit); "none": not rechecked."""
        if self.fault_pmd_recheck == "none":
            return False
        return Not(pmd_ptes_none(L, s, n, f))

    @hook
    def dax_layout_busy_page_unmaps(self):
        """dax_layout_busy_page: unmap_mapping_range of the range before looking for pinned
        pages, so a new get_user_pages must fault (and block on MMAPLOCK) instead of pinning
        through a PTE left in place (4.18 'mm, fs, dax: handle layout changes to pinned dax
        mappings'); "no-unmap": pins are looked for with the mapping left in place."""
        return self.layout_break != "no-unmap"

    @hook
    def xfs_wait_dax_page_drops_lock(self):
        """xfs_wait_dax_page: drop XFS_MMAPLOCK_EXCL while sleeping until the busy page is
        idle, retake it and look again (4.19 'xfs, dax: introduce xfs_break_dax_layouts()');
        "hold-mmaplock": sleep holding it, which deadlocks against a get_user_pages that
        must fault another page of the file."""
        return self.layout_break != "hold-mmaplock"

    @hook
    def dax_pfn_mkwrite_holds_entry_lock(self):
        """dax_pfn_mkwrite / dax_iomap_pfn_mkwrite: the entry lock is held from tagging the
        entry dirty until the PTE is made writable (finish_mkwrite_fault), so
        dax_writeback_one cannot clean the entry in between (2016 'dax: Protect PTE
        modification on WP fault by radix tree entry lock'); "none": only around the
        tagging."""
        return self.mkwrite_entry_lock == "held"

    # ================================================================ userspace contract
    @hook
    def userspace_flush_durable(self, L, s, n, f, x):
        """The userspace flush contract (pmem_persist after MAP_SYNC, seed 004): whether a
        flush through process ``n``'s mapping of ``f``/``x`` is a durability point: a
        writable PTE of a MAP_SYNC mapping or a sealed (daxfile) inode; "any": every
        mapping."""
        if self.flush_durable_mode == "any":
            return True
        return Or(
            And(s[L.mmap_mode[n][f]] == MM_SYNC, s[L.pte_kind[n][f][x]] == PTE_RW),
            s[L.sealed[f]] == 1,
        )


SETTINGS: dict[str, dict] = {
    f.name: dict(f.metadata) for f in dataclasses.fields(Design) if "choices" in f.metadata
}
"""Every design setting in declaration order: ``{"choices", "doc", "race"}`` (see
:func:`setting`); the default is the merged-kernel (6.x) behaviour."""
Design._CHOICES = {  # type: ignore[attr-defined]
    k: m["choices"] for k, m in SETTINGS.items() if m["choices"] != (False, True)
}  # the pre-0.2 name


def settings_doc() -> list[tuple[str, object, tuple, str]]:
    """``(name, default, choices, doc)`` of every design setting, in declaration order (for
    ``daxcheck list settings`` and the docs)."""
    defaults = {f.name: f.default for f in dataclasses.fields(Design)}
    return [
        (k, defaults[k], m["choices"], m["doc"] + (" [race designs]" if m["race"] else ""))
        for k, m in SETTINGS.items()
    ]


Design.install_kernel_functions({f.name for f in dataclasses.fields(Design)})


def hooks() -> list[tuple[str, str]]:
    """Every kernel hook of :class:`Design`: ``(name, kernel source)`` where the source is
    the docstring's first sentence (it names the kernel function modelled and, for a
    function of :mod:`daxcheck.spec.kernel`, its kernel file, prefixed as ``[file]`` if the
    sentence does not name it), in class order:
    the design decisions defined in the class, then the kernel functions in registration
    order, then the hooks user files declared (``@kernel_function``; every design has their
    default body: :class:`~daxcheck.spec.kernel.registry.KernelHooks`)."""
    return hook_rows(vars(Design))


def register_design(d: Design) -> Design:
    """Add a design to the registry (a user's file calls this); returns it.
    Raises DesignError if the name is already taken."""
    if d.name in DESIGNS:
        raise DesignError(f"design {d.name} is already registered")
    DESIGNS[d.name] = d
    if type(d) is not Design:
        declare_warnings_of(d)
    return d


declare_module_warnings(__file__)


def __getattr__(name: str):
    """``SEED_DESIGNS``, deprecated here (0.3; one release): the seed designs moved to
    :data:`daxcheck.spec.seeds.SEED_DESIGNS`; a DeprecationWarning, then that tuple.
    AttributeError for any other name."""
    if name != "SEED_DESIGNS":
        raise AttributeError(f"module 'daxcheck.spec.designs' has no attribute {name!r}")
    from . import seeds  # seeds imports this module: only here, on first use

    warnings.warn(
        "daxcheck.spec.designs.SEED_DESIGNS is deprecated: use daxcheck.spec.seeds.SEED_DESIGNS",
        DeprecationWarning,
        stacklevel=2,
    )
    return seeds.SEED_DESIGNS

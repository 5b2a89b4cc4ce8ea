"""Deprecated (0.2): the kernel building blocks moved to :mod:`daxcheck.spec.kernel`, one
module per kernel source file, each modelled kernel function named as in the kernel (e.g.
``insert_entry`` is :func:`daxcheck.spec.kernel.dax.dax_insert_entry`, ``cow_remap`` is
:func:`daxcheck.spec.kernel.xfs_reflink.xfs_reflink_end_cow`, ``file_view`` is
:func:`daxcheck.spec.kernel.views.file_view`).

This module keeps the old names working for one release: reading one (``fsdax.file_view``,
``from daxcheck.spec.fsdax import warn_on``) returns the new object with a
DeprecationWarning naming its new home (once per name and process: the name is then bound
in this module).  Names whose old signature had no design argument
(``writeback_entry``, ``journal_commit``, ``insert_zero_entry``) get a wrapper with the old
signature.
"""

from __future__ import annotations

import importlib
import warnings

OLD_NAMES: dict[str, tuple[str, str, bool]] = {
    "SpecError": ("warn", "SpecError", False),
    "kernel_warning": ("warn", "kernel_warning", False),
    "declare_warnings_in": ("warn", "declare_warnings_in", False),
    "warn_on": ("warn", "warn_on", False),
    "declare_warnings_of": ("warn", "declare_warnings_of", False),
    "declare_module_warnings": ("warn", "declare_module_warnings", False),
    "cpu_data": ("views", "cpu_data", False),
    "file_view": ("views", "file_view", False),
    "persisted_view": ("views", "persisted_view", False),
    "load_view": ("views", "load_view", False),
    "pmd_aligned_extent": ("views", "pmd_aligned_extent", False),
    "pmd_ptes_none": ("views", "pmd_ptes_none", False),
    "mapped": ("views", "mapped", False),
    "clear_promise": ("views", "clear_promise", False),
    "set_last": ("views", "set_last", False),
    "wrote": ("views", "wrote", False),
    "grow": ("views", "grow", False),
    "allocatable": ("xfs_bmap", "allocatable", False),
    "find_free": ("xfs_bmap", "find_free", False),
    "ref_add": ("xfs_bmap", "ref_add", False),
    "hole_run": ("xfs_bmap", "hole_run", False),
    "free_index": ("xfs_bmap", "xfs_bunmapi", False),
    "zero_block": ("pmem", "zero_block", False),
    "copy_block": ("pmem", "copy_block", False),
    "zero_segs": ("pmem", "zero_segs", False),
    "nt_store": ("pmem", "nt_store", False),
    "flush_block": ("pmem", "flush_block", False),
    "is_shared": ("xfs_reflink", "is_shared", False),
    "cow_remap": ("xfs_reflink", "xfs_reflink_end_cow", False),
    "inode_meta_dirty": ("xfs_log", "inode_meta_dirty", False),
    "recover": ("xfs_log", "recover_from_log", False),
    "journal_commit": ("xfs_log", "xfs_log_force", True),
    "unmap": ("mm", "unmap", False),
    "zap_pmd": ("huge_memory", "zap_huge_pmd", False),
    "invalidate": ("mm", "invalidate_inode_pages2_range", False),
    "break_pmd": ("dax", "break_pmd", False),
    "delete_entry": ("dax", "dax_delete_mapping_entry", False),
    "writeback_entry": ("dax", "dax_writeback_one", True),
    "writeback_file": ("dax", "dax_writeback_mapping_range", False),
    "copy_around": ("dax", "copy_around", False),
    "associate_single_owner": ("dax", "associate_single_owner", False),
    "disassociate_single_owner": ("dax", "disassociate_single_owner", False),
    "associate_shared_count": ("dax", "associate_shared_count", False),
    "disassociate_shared_count": ("dax", "disassociate_shared_count", False),
    "truncate_pinned_warning": ("dax", "truncate_pinned_warning", False),
    "insert_entry": ("dax", "dax_insert_entry", False),
    "insert_zero_entry": ("dax", "dax_load_hole", True),
    "pmd_conflict": ("dax", "pmd_conflict", False),
    "write_plan": ("xfs_iomap", "write_plan", False),
    "write_effects": ("xfs_iomap", "write_effects", False),
    "begin_write": ("xfs_iomap", "xfs_dax_write_iomap_begin", False),
}
"""Old name -> (module of :mod:`daxcheck.spec.kernel`, new name, old signature lacked ``D``)."""


def _without_design(fn):
    """``fn(D, L, d, ...)`` as the old ``fn(L, d, ...)`` (its body does not read ``D``)."""

    def old(L, d, *args):
        return fn(None, L, d, *args)

    old.__doc__ = fn.__doc__
    old.__name__ = fn.__name__
    return old


def __getattr__(name: str):
    """The new object for an old name, with a DeprecationWarning; AttributeError else."""
    try:
        mod, new, wrap = OLD_NAMES[name]
    except KeyError:
        raise AttributeError(f"module 'daxcheck.spec.fsdax' has no attribute {name!r}") from None
    warnings.warn(
        f"daxcheck.spec.fsdax.{name} is deprecated: use daxcheck.spec.kernel.{mod}.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    obj = getattr(importlib.import_module(f"daxcheck.spec.kernel.{mod}"), new)
    obj = _without_design(obj) if wrap else obj
    globals()[name] = obj  # warned once; later reads (in a transition's hot path) are plain
    return obj


def __dir__():
    return sorted(OLD_NAMES)

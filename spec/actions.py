"""Deprecated (0.2): the operations moved to :mod:`daxcheck.spec.ops`, one module per family
(``mmap_fault``, ``file_io``, ``fallocate``, ``reflink``, ``sync``, ``pins``, ``crash``,
``inode``, ``races``), the framework (``Action``, ``action``, ``ACTIONS``) to
:mod:`daxcheck.spec.ops.base`, and the kernel logic the operations held to
:mod:`daxcheck.spec.kernel` (``remap_range`` is
:func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`).

Reading an old name here (``from daxcheck.spec.actions import Action, Write, action``)
still works for one release and gives the new object with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import warnings

OLD_NAMES: dict[str, str] = {
    "remap_range": "daxcheck.spec.kernel.xfs_reflink:xfs_reflink_remap_blocks",
    "_insert_pfn": "daxcheck.spec.kernel.dax:dax_insert_pfn",
    "_cow_page": "daxcheck.spec.kernel.dax:dax_fault_cow_page",
    "_promise": "daxcheck.spec.kernel.views:promise",
    "_per_inode_dax": "daxcheck.spec.ops.common:per_inode_dax",
    "_write_ranges": "daxcheck.spec.ops.common:write_ranges",
}
"""Old names whose new home is not ``daxcheck.spec.ops`` under the same name."""


def __getattr__(name: str):
    """The object an old name stands for, with a DeprecationWarning; AttributeError else."""
    target = OLD_NAMES.get(name, f"daxcheck.spec.ops:{name}")
    mod, new = target.split(":")
    obj = getattr(importlib.import_module(mod), new, None)
    if obj is None or name.startswith("__"):
        raise AttributeError(f"module 'daxcheck.spec.actions' has no attribute {name!r}")
    warnings.warn(
        f"daxcheck.spec.actions.{name} is deprecated: use {mod}.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    globals()[name] = obj  # warned once per name and process
    return obj

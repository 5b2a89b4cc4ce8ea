"""Deprecated (0.2): the split operations of the race designs moved to
:mod:`daxcheck.spec.ops.races`.  Reading a name here still works for one release, with a
DeprecationWarning (``_thread_offsets`` is now ``thread_offsets``)."""

from __future__ import annotations

import warnings

from .ops import races as _new


def __getattr__(name: str):
    """The object of :mod:`daxcheck.spec.ops.races` an old name stands for, with a
    DeprecationWarning; AttributeError else."""
    new = "thread_offsets" if name == "_thread_offsets" else name
    obj = getattr(_new, new, None)
    if obj is None or name.startswith("__"):
        raise AttributeError(f"module 'daxcheck.spec.races' has no attribute {name!r}")
    warnings.warn(
        f"daxcheck.spec.races.{name} is deprecated: use daxcheck.spec.ops.races.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    globals()[name] = obj  # warned once per name and process
    return obj

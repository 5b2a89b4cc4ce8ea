"""Renamed design settings (the stable API, issue 25): an old setting name still works for at
least one release, as ``Design(..., old=value)`` and ``design.variant(old=value)``, with a
DeprecationWarning naming its new name.

=============  =================  ====================================================
old name       new name           why
=============  =================  ====================================================
``map_sync``   ``mmap_map_sync``  0.2 (issue 24): MAP_SYNC split into ``mmap_map_sync``
                                  (->mmap accepts MAP_SYNC), ``sync_fault`` and
                                  ``iomap_dirty``; ``map_sync=False`` meant "MAP_SYNC
                                  not offered", which is ``mmap_map_sync=False`` (the
                                  other two then never apply)
=============  =================  ====================================================
"""

from __future__ import annotations

import warnings

RENAMED_SETTINGS: dict[str, str] = {"map_sync": "mmap_map_sync"}
"""Old setting name -> its new name (a :class:`~daxcheck.spec.designs.Design` field)."""


def warn_renamed(design: str, old: str, stacklevel: int = 3) -> str:
    """Warn (DeprecationWarning) that setting ``old`` of design ``design`` is renamed; returns
    the new name.  Raises KeyError for a name that was never renamed."""
    new = RENAMED_SETTINGS[old]
    warnings.warn(
        f"design {design}: setting {old!r} is deprecated (renamed {new!r} in 0.2); still "
        f"honoured in this release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return new


def renamed_settings(design: str, changes: dict) -> dict:
    """``changes`` (setting name -> value, as given to ``Design.variant``) with every old
    name replaced by its new one (a DeprecationWarning each); a new name given too wins."""
    out: dict[str, object] = {}
    for key, value in changes.items():
        if key in RENAMED_SETTINGS:
            out.setdefault(warn_renamed(design, key, stacklevel=4), value)
        else:
            out[key] = value
    return out

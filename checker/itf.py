"""ITF values of one state (ADR-015): the layout's fields as ITF records and back.

:func:`state_to_itf` renders a state (``bytes``) generically over ``Layout.fields``: enum
values as member names, index dimensions with named members (files, procs, pmem pages) as
``#map`` records keyed by name, plain indices (file blocks) as lists;
:func:`state_from_itf` is its inverse, with a field-level :class:`TraceError` for any value
out of the layout's domain.  Used by :mod:`.trace` (``Trace``, ``read_itf``).
"""

from __future__ import annotations

import functools

from daxcheck.spec.state import fmt_index as index_name


class TraceError(ValueError):
    """A trace file is missing, malformed, truncated or does not fit the model; the
    message names the file and the field."""


# ------------------------------------------------------------------ ITF values
def _named(dim: str) -> bool:
    """Whether members of index dimension ``dim`` have names (a, p0, s0...) rather than
    being plain numbers (file block indices)."""
    return index_name(dim, 0) != "0"


def _fields(L):
    """``(name, dims, enum, flat offsets)`` of every field of layout ``L``."""
    return [(f[0], f[1], f[3], f[5]) for f in L.fields]


def state_to_itf(L, s: bytes) -> dict:
    """The state ``s`` of layout ``L`` as ``{field: ITF value}`` (see the module
    docstring for the shapes)."""
    out = {}
    for name, dims, enum, flat in _fields(L):
        offs = iter(flat)

        def enc(dims):
            if not dims:
                o = next(offs)
                return s[o] if enum is None else L.show(o, s[o])
            d, rest = dims[0], dims[1:]
            items = [(i, enc(rest)) for i in range(L.dims[d])]
            if _named(d):
                return {index_name(d, i): v for i, v in items}
            return {"#map": [[i, v] for i, v in items]}

        out[name] = enc(tuple(dims))
    return out


@functools.lru_cache(maxsize=256)
def _names_to_values(L, name: str) -> dict:
    """``{shown name: byte value}`` for field ``name`` of ``L`` (inverse of ``L.show``)."""
    o = getattr(L, name)
    while isinstance(o, tuple):
        o = o[0]
    return {L.show(o, v): v for v in range(256)}


def _int(v):
    if isinstance(v, dict) and set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
        try:
            return int(v["#bigint"])
        except ValueError:
            return None
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def state_from_itf(L, rec: dict) -> bytes:
    """Inverse of :func:`state_to_itf` (also accepting nested lists of integers, and
    ``#bigint`` integers as itf-py writes them).  Raises ValueError whose message starts
    with the path of the offending field, e.g. ``media.p1.s0 holds 'stal', not one of ...``."""
    d = bytearray(L.width)
    for name, dims, enum, flat in _fields(L):
        if name not in rec:
            raise ValueError(f"{name} is missing")
        offs = iter(flat)

        def dec(v, dims, path):
            if not dims:
                o = next(offs)
                n = _int(v)
                if n is None and isinstance(v, str) and enum is not None:
                    n = _names_to_values(L, name).get(v)
                if n is None or not 0 <= n <= 255:
                    want = (
                        "an int in 0..255"
                        if enum is None
                        else ("one of " + ", ".join(list(_names_to_values(L, name))[:8]) + "...")
                    )
                    raise ValueError(f"{path} holds {v!r}, not {want}")
                d[o] = n
                return
            dim, rest, n = dims[0], dims[1:], L.dims[dims[0]]
            if isinstance(v, list):  # the earlier positional form
                if len(v) != n:
                    raise ValueError(f"{path} has {len(v)} entries, not {n}")
                for i, e in enumerate(v):
                    dec(e, rest, f"{path}[{i}]")
                return
            if isinstance(v, dict) and "#map" in v:
                pairs = v["#map"]
                ok = isinstance(pairs, list) and all(
                    isinstance(e, list) and len(e) == 2 for e in pairs
                )
                keys = [_int(e[0]) for e in pairs] if ok else None
                if (
                    not ok
                    or sorted(k for k in keys if k is not None) != list(range(n))
                    or None in keys
                ):
                    raise ValueError(f"{path} must be a #map from each of 0..{n - 1} to a value")
                by = dict(zip(keys, (e[1] for e in pairs)))
                for i in range(n):
                    dec(by[i], rest, f"{path}[{i}]")
                return
            if isinstance(v, dict) and _named(dim):
                want = [index_name(dim, i) for i in range(n)]
                if sorted(v) != sorted(want):
                    raise ValueError(
                        f"{path} must be a record with keys {', '.join(want)}, "
                        f"not {', '.join(map(str, v)) or 'none'}"
                    )
                for k in want:
                    dec(v[k], rest, f"{path}.{k}")
                return
            raise ValueError(f"{path} is neither a list, a record nor a #map")

        dec(rec[name], tuple(dims), name)
    return bytes(d)

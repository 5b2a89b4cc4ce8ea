"""Helpers the operations share: argument enumerations and guards that are not kernel
functions."""

from __future__ import annotations


def per_inode_dax(D, L, s, f):
    """With per-inode DAX in scope, DAX mmaps and faults need S_DAX (page-cache I/O of a
    non-DAX inode is outside the model): the condition, else True."""
    return s[L.s_dax[f]] == 1 if D.has("dax_toggle") else True


def write_ranges(L, D):
    """Segment ranges (lo, hi) a write(2) or zero range may cover: the whole block first,
    then (with ``partial_writes``) every other contiguous range."""
    S = len(L.segs)
    whole = (0, S - 1)
    if not D.partial_writes:
        return (whole,)
    return (whole,) + tuple((lo, hi) for lo in range(S) for hi in range(lo, S) if (lo, hi) != whole)


def per_mapping(L):
    """Arguments ``dict(proc=, file=)`` of an operation on the whole two-page (PMD) range
    of one process's mapping of one file: none when files have a single block."""
    if len(L.blks) < 2:
        return []
    return [dict(proc=n, file=f) for n in L.procs for f in L.files]

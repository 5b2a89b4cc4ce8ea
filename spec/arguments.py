"""What each action argument means, and how it is shown.

Action families are frozen dataclasses whose fields are their arguments
(:mod:`daxcheck.spec.actions`).  :data:`ARGUMENTS` documents an argument name once for every
family that uses it (``file`` is the same inode index everywhere); an action may instead give
a field ``metadata={"doc": ...}``.  ``daxcheck list actions --verbose`` prints these, and
:func:`show_arg` renders values in traces (``write(file=a, idx=0, lo=0, hi=1, token=t1)``).
"""

from __future__ import annotations

from dataclasses import fields as dc_fields

from .state import SEGS, file_name

ARGUMENTS = {
    "proc": "process (P0, P1): whose mapping and page tables the step uses",
    "file": "file (inode) a, b or c",
    "src": "source file of the reflink (a, b, c)",
    "dst": "destination file of the reflink (a, b, c)",
    "idx": "file block index: the 4 KiB page at byte offset idx*4096 of the file",
    "seg": f"segment of the 4 KiB block: s0 = bytes 0-2047, s1 = 2048-4095 ({SEGS} per block)",
    "lo": "first segment written (0 = bytes 0-2047 of the block)",
    "hi": "last segment written, inclusive (1 = bytes 2048-4095): lo=0, hi=1 is the whole "
    "block, anything else an unaligned (partial) write",
    "token": "data token written: t1, t2... stand for distinct userspace data (0 = zeros)",
    "sync": "true: mmap(MAP_SHARED_VALIDATE | MAP_SYNC); false: plain MAP_SHARED",
    "write": "true: a write fault (->iomap_begin(IOMAP_WRITE), writable PTE); false: a read fault",
    "size": "new i_size in 4 KiB blocks",
    "soff": "first block of the source range (4 KiB blocks)",
    "doff": "first block of the destination range (4 KiB blocks)",
    "length": "length of the range in 4 KiB blocks",
    "phys": "physical pmem block (pfn) p0, p1...",
    "on": "true: set FS_XFLAG_DAX on the file; false: clear it",
    "avail": "segments of the range the user buffer supplies before the copy faults (a "
    "short write(2) returns that many segments' bytes)",
    "thread": "kernel thread (T0, T1...) running the split operation (race designs)",
    "step": "the step of the split operation, from 0 (traces show it by the kernel "
    "function it models, e.g. iomap_begin)",
}
"""Argument name -> meaning (units: blocks are 4 KiB pages, segments 2 KiB)."""

_SHOW = {
    "file": file_name,
    "src": file_name,
    "dst": file_name,
    "proc": lambda v: f"P{v}",
    "token": lambda v: f"t{v}",
    "seg": lambda v: f"s{v}",
    "phys": lambda v: f"p{v}",
    "thread": lambda v: f"T{v}",
}


def show_arg(name: str, value) -> str:
    """An argument value as traces show it: files a/b/c, processes P0, tokens t1, segments
    s0, pfns p0, booleans true/false, other ints as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    fmt = _SHOW.get(name)
    return fmt(value) if fmt is not None and isinstance(value, int) else str(value)


def arg_doc(cls, name: str) -> str | None:
    """The meaning of argument ``name`` of action class ``cls``: the field's
    ``metadata["doc"]``, else :data:`ARGUMENTS`, else None (undocumented)."""
    for f in dc_fields(cls):
        if f.name == name and f.metadata.get("doc"):
            return f.metadata["doc"]
    return ARGUMENTS.get(name)

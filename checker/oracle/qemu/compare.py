"""What the real-DAX oracle compares after each op: guest state against the spec.

Contents, sizes and the extent map per file (:func:`compare`), after a crash the allowed
post-crash states (:func:`compare_crash`), and kernel WARNs (:func:`check_warnings`).
"""

from __future__ import annotations

from ....spec.state import WARNINGS, file_name
from ..compare import compare_maps, expected_bytes
from ..kernel import BLOCK
from ..ops import Mismatch
from .mmap_ops import crash_members
from .shadows import GuestCtx, seg_names, seg_summary


def _block_map(state: dict, nblocks: int) -> list:
    """daxguest's ``ext=`` field as :func:`~..kernel.block_map` does FIEMAP: per block None
    or (physical block, shared, unwritten)."""
    exts = []
    if state["ext"] != "-":
        for e in state["ext"].split(","):
            lo, ph, ln, fl = e.split(":")
            exts.append((int(lo), int(ph), int(ln), int(fl, 16)))
    out = []
    for x in range(nblocks):
        pos, hit = x * BLOCK, None
        for lo, ph, ln, fl in exts:
            if lo <= pos < lo + ln:
                hit = ((ph + pos - lo) // BLOCK, bool(fl & 0x2000), bool(fl & 0x800))
                break
        out.append(hit)
    return out


def guest_states(c: GuestCtx) -> list:
    return [c.g.cmd(f"state {f}") for f in c.L.files]


def compare(c: GuestCtx, states: list, *, exact_size: bool = True) -> None:
    """The guest's per-file ``state`` answers against the spec state ``c.s``: i_size (bytes
    with ``exact_size``, else whole blocks), contents (segment summaries, up to the kernel's
    i_size), STATX_ATTR_DAX (the spec's S_DAX) and the extent map.  Raises Mismatch."""
    L, s = c.L, c.s
    for f in L.files:
        st = states[f]
        size = int(st["size"])
        name = file_name(f)
        if exact_size and size != c.nbytes[f]:
            raise Mismatch(f"{name}: kernel i_size {size} B, expected {c.nbytes[f]} B")
        if s[L.size[f]] != -(-size // BLOCK):
            raise Mismatch(f"{name}: spec size {s[L.size[f]]} blocks, kernel {size} B")
        saved, c.nbytes[f] = c.nbytes[f], size
        try:
            want = seg_summary(expected_bytes(c, f))
        finally:
            c.nbytes[f] = saved
        if st["segs"] != want:
            raise Mismatch(f"{name}: kernel reads {seg_names(st['segs'])}, spec {seg_names(want)}")
        if int(st["dax"]) != s[L.s_dax[f]]:
            raise Mismatch(f"{name}: kernel STATX_ATTR_DAX={st['dax']}, spec S_DAX={s[L.s_dax[f]]}")
    compare_maps(c, [_block_map(states[f], s[L.size[f]]) for f in L.files])


def compare_crash(c: GuestCtx, states: list) -> str:
    """The recovered kernel state against every allowed member; returns the matching
    member's label, raises Mismatch naming the closest difference when none matches."""
    first, n = None, 0
    keep = c.s
    for every in (False, True):
        for label, t in crash_members(c, every_subset=every):
            n += 1
            c.s = t
            try:
                compare(c, states, exact_size=False)
                return label
            except Mismatch as e:
                first = first or f"{e} (member: {label})"
            finally:
                c.s = keep
    raise Mismatch(
        f"after recovery no allowed post-crash state matches ({n} members tried); e.g. {first}"
    )


def check_warnings(c: GuestCtx, op, before: int) -> None:
    """The console against the spec's sticky ``warning`` field (``before``: its value before
    ``op``): a WARN/BUG line while the spec has reached no warning is a mismatch, and so is
    a warning the spec reaches in ``op`` when the kernel printed none this boot (its
    WARN_ON_ONCE may have fired in an earlier sequence of the same boot)."""
    lines = c.g.kernel_warnings()
    now = c.s[c.L.warning]
    if lines and now == 0:
        raise Mismatch(f"kernel warned after {op}: {lines[0]} (the spec predicts no warning)")
    if now and not before and not c.g.warned:
        raise Mismatch(
            f"spec predicts a kernel warning after {op} "
            f"({list(WARNINGS)[now - 1]!r}); the kernel printed none"
        )

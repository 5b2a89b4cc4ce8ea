"""Sharing blocks: FICLONE, FICLONERANGE and FIDEDUPERANGE
(:func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..vocab import And, draft, freeze, require
from .base import Action, action


@action
@dataclass(frozen=True)
class Reflink(Action):
    """ioctl(FICLONE): all of ``src`` (to its EOF) is reflinked into ``dst`` from offset 0
    (xfs_reflink_remap_range, see
    :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`): ``dst``'s blocks
    within ``src``'s size are replaced (written extents shared, unwritten ones and holes become holes),
    ``dst``'s blocks past ``src``'s EOF stay, ``dst``'s size becomes the larger of the two.
    Disabled when ``src`` is empty (the kernel returns 0 before doing anything) or the
    design refuses reflink."""

    name: ClassVar[str] = "reflink"
    src: int
    dst: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b = self.src, self.dst
        if not require(And(D.xfs_reflink_remap_prep(L, s, a, b), s[L.size[a]] > 0)):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, 0, 0, len(L.blks))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(a, b) for a in L.files for b in L.files if a != b]


def _range_instances(cls, L):
    """(src, dst, soff, doff, length) for every in-bounds range; overlapping ranges of
    one file (EINVAL, generic_remap_file_range_prep) have no instance."""
    B = len(L.blks)
    out = []
    for a in L.files:
        for b in L.files:
            for n in range(1, B + 1):
                for so in range(B - n + 1):
                    for do in range(B - n + 1):
                        if a == b and do < so + n and so < do + n:
                            continue
                        out.append(cls(a, b, so, do, n))
    return out


@action
@dataclass(frozen=True)
class ReflinkRange(Action):
    """ioctl(FICLONERANGE) of ``length`` blocks of ``src`` from block ``soff`` onto ``dst`` at
    block ``doff`` (xfs_reflink_remap_range, see
    :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`): the range is shortened
    to ``src``'s EOF; written source extents are shared, holes and unwritten extents leave
    holes; ``dst`` grows to the end of the range.  Disabled (EINVAL) when ``soff`` is at or
    past ``src``'s EOF, or the design refuses reflink.  Overlapping ranges of one file (EINVAL,
    generic_remap_file_range_prep) have no instance."""

    name: ClassVar[str] = "reflink_range"
    src: int
    dst: int
    soff: int
    doff: int
    length: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b = self.src, self.dst
        if not require(And(D.xfs_reflink_remap_prep(L, s, a, b), self.soff < s[L.size[a]])):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, self.soff, self.doff, self.length)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return _range_instances(cls, L)


@action
@dataclass(frozen=True)
class Dedupe(Action):
    """ioctl(FIDEDUPERANGE) of ``length`` blocks of ``src`` from ``soff`` against ``dst`` at
    ``doff`` (xfs_file_remap_range(REMAP_FILE_DEDUP) → dax_remap_file_range_prep →
    dax_dedupe_file_range_compare): only when both ranges lie within EOF and read the same
    (hook ``dax_dedupe_file_range_compare``; else FILE_DEDUPE_RANGE_DIFFERS: disabled) the
    destination's blocks are replaced by shared references to the source's (see
    :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`); no file's contents
    change."""

    name: ClassVar[str] = "dedupe"
    src: int
    dst: int
    soff: int
    doff: int
    length: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b, n = self.src, self.dst, self.length
        if not require(
            And(
                D.xfs_reflink_remap_prep(L, s, a, b),
                self.soff + n <= s[L.size[a]],
                self.doff + n <= s[L.size[b]],
                D.dax_dedupe_file_range_compare(L, s, a, self.soff, b, self.doff, n),
            )
        ):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, self.soff, self.doff, n, dedupe=True)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [a for a in _range_instances(cls, L) if a.src != a.dst]

"""get_user_pages pins on DAX mappings and the device DMA into them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..kernel import views
from ..state import PTE_RW
from ..vocab import And, draft, freeze, require, select, store, when
from .base import Action, action


@action
@dataclass(frozen=True)
class Pin(Action):
    """get_user_pages(FOLL_WRITE | FOLL_PIN) on process ``proc``'s writable DAX mapping of
    ``file`` index ``idx`` (an O_DIRECT read or RDMA into a buffer that is itself a DAX
    mapping, generic/503, generic/462): the pmem page the PTE maps is pinned for the DMA.
    Disabled without a writable PTE or when the page is already pinned."""

    name: ClassVar[str] = "pin"
    proc: int
    file: int
    idx: int

    def apply(self, m, s):
        L = m.L
        n, f, x = self.proc, self.file, self.idx
        p = s[L.pte_pfn[n][f][x]]
        if not require(And(s[L.pte_kind[n][f][x]] == PTE_RW, select(s, L.pinned, p) == 0)):
            return None
        d = draft(s)
        store(d, L.pinned, p, 1)
        store(d, L.pin_file, p, f)
        store(d, L.pin_idx, p, x)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x) for n in L.procs for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Dma(Action):
    """The device completes the DMA into pinned page ``phys`` with ``token`` and the pin is
    dropped (unpin_user_pages): every segment of the page now holds the data (a DMA write
    reaches memory; cached copies are invalidated).  Ghost: userspace asked for this data
    at the file offset the pin was taken through."""

    name: ClassVar[str] = "dma"
    free: ClassVar[tuple] = ("token",)
    phys: int
    token: int

    def apply(self, m, s):
        L = m.L
        p, t = self.phys, self.token
        mine = (s[L.pin_holder[p]] == 0) if L.races else True  # not a thread's O_DIRECT pin
        if not require(And(s[L.pinned[p]] == 1, mine)):
            return None
        d = draft(s)
        for g in L.segs:
            d[L.media[p][g]] = t
            d[L.cache[p][g]] = 0
        pf, pi = s[L.pin_file[p]], s[L.pin_idx[p]]
        for f, x in L.file_blks:
            when(
                d,
                And(pf == f, pi == x),
                lambda d, f=f, x=x: [views.wrote(L, d, f, x, g, t) for g in L.segs],
            )
        d[L.pinned[p]] = 0
        d[L.pin_file[p]] = 0
        d[L.pin_idx[p]] = 0
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(b, t) for b in L.phys for t in L.toks]

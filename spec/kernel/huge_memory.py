"""mm/huge_memory.c: zapping and splitting a DAX PMD mapping."""

from __future__ import annotations

from ..state import PTE_ANON, PTE_NONE
from ..vocab import If, when
from .registry import kernel_function


def zap_huge_pmd(L, d, n, f):
    """zap_huge_pmd / __split_huge_pmd (mm/huge_memory.c) of a DAX PMD: process ``n``'s
    PMD mapping of ``f`` goes, with the PTEs that mirror it (the next access faults
    again); an anonymous CoW page stays."""

    def go(d):
        for x in L.blks:
            k = d[L.pte_kind[n][f][x]]
            keep = k == PTE_ANON
            d[L.pte_kind[n][f][x]] = If(keep, k, PTE_NONE)
            d[L.pte_pfn[n][f][x]] = If(keep, d[L.pte_pfn[n][f][x]], 0)
        d[L.pmd_map[n][f]] = 0

    when(d, d[L.pmd_map[n][f]] == 1, go)


@kernel_function("mm/huge_memory.c")
def split_huge_pmd(D, L, d, n, f):
    """split_huge_pmd -> __split_huge_pmd (mm/huge_memory.c) on a write fault that must
    fall back to PTEs: a MAP_PRIVATE write fault (wp_huge_pmd: the CoW is done on 4 KiB
    pages, dax_fault_check_fallback) splits process ``n``'s DAX PMD mapping of ``f``; for a
    file (non-anonymous) PMD the split is a zap (:func:`zap_huge_pmd`: the PMD goes, the next
    access faults 4 KiB pages).  The setting ``private_pmd_split="none"`` selects the body
    that leaves the PMD mapped (the anonymous PTE then lands under a live PMD, generic/437).
    """
    if D.private_pmd_split == "split":
        zap_huge_pmd(L, d, n, f)

"""mm/huge_memory.c: zapping and splitting a DAX PMD mapping."""

from __future__ import annotations

from ..state import PTE_ANON, PTE_NONE
from ..vocab import If, when


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

"""The byte-level checks of a concrete replay: symptoms in the final state and crash images.

:data:`FINAL_CHECKS` maps a property to its check on the concrete bytes after the replay
(what read(2) and loads through each mapping return, the reverse map of each pmem page, the
bytes at a sealed physical address, ...); :func:`crash_point` enumerates (or samples) the
crash images at one crash point, recovers each with the abstract Crash action's metadata and
checks that promised data is present and no stale data is read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daxcheck.spec.ops.races import SplitOp, cycles
from daxcheck.spec.state import (
    HOLE,
    ORDER_PMD,
    PG_NULL,
    PG_SHARED,
    PTE_NONE,
    PTE_RO,
    PTE_RW,
    PTE_ZERO,
    WRITTEN,
    XA_PFN,
    file_name,
    token_name,
)

from .codec import hex_excerpt
from .pmem import BLOCK, LINE, MAX_ENUM

if TYPE_CHECKING:
    from .executor import ConcreteExecutor

MAX_DETAILS = 3
"""Failing crash images described in full per crash point."""


# ============================================================================ checks
@dataclass
class _Bad:
    file: int
    start: int  # file byte offset
    end: int  # inclusive
    desc: str
    pmem_off: int  # -1 when the bytes are not on pmem
    sample: bytes


def _merge(bads: list[_Bad]) -> list[_Bad]:
    out: list[_Bad] = []
    for b in bads:
        if out and out[-1].file == b.file and out[-1].desc == b.desc and out[-1].end + 1 == b.start:
            out[-1].end = b.end
        else:
            out.append(b)
    return out


def _fmt_bad(b: _Bad, prefix: str = "file") -> str:
    where = f"{prefix} {file_name(b.file)}, bytes {b.start}-{b.end} {b.desc}"
    if b.pmem_off >= 0:
        where += f" [pmem 0x{b.pmem_off:05x}: {hex_excerpt(b.sample)}]"
    return where


def _bad_lines(
    ex: ConcreteExecutor, f, x, data: bytes, pmem_off: int, verb: str, promise=None
) -> list[_Bad]:
    """Classify each line of a 4096-byte block read at ``f``/``x``: illegitimate data (not
    written/inherited at that offset), and with ``promise`` ((g) -> expected token or 0
    for none) data differing from the promised token."""
    out = []
    for i, info in enumerate(ex.codec.lines(data)):
        g = i // (ex.seg_bytes // LINE)
        start = x * BLOCK + i * LINE
        po = pmem_off + i * LINE if pmem_off >= 0 else -1
        desc = None
        want = promise(g) if promise else 0
        if want and info.token != want - 1:
            desc = f"promised {token_name(want - 1)} by a sync, but {verb} {info.describe()}"
        elif info.kind in ("stale", "garbled") or (
            info.kind == "data" and info.token not in ex.written[(f, x, g)]
        ):
            if info.kind == "data" and info.file != f:
                desc = (
                    f"{verb} file {file_name(info.file)}'s data (written at "
                    f"{file_name(info.file)} block {info.blk}, token {token_name(info.token)})"
                )
            elif info.kind == "data":
                desc = (
                    f"{verb} {token_name(info.token)} written at block {info.blk} segment "
                    f"{info.seg}, never written at this offset"
                )
            else:
                desc = f"{verb} {info.describe()}"
        if desc:
            out.append(_Bad(f, start, start + LINE - 1, desc, po, data[i * LINE : (i + 1) * LINE]))
    return out


def _check_reads(ex, s) -> list[str]:
    """no_stale_data at byte level: every read(2) within EOF and every load through a PTE
    returns zeros or data written (or inherited) at that file offset."""
    L, out = ex.L, []
    bads = []
    for f, x in L.file_blks:
        data = ex.read_block(s, f, x)
        if data is None:
            continue
        po = s[L.ext_pblk[f][x]] * BLOCK if s[L.ext_kind[f][x]] == WRITTEN else -1
        bads += _bad_lines(ex, f, x, data, po, "read")
    out += [_fmt_bad(b) for b in _merge(bads)]
    for n in L.procs:
        bads = []
        for f, x in L.file_blks:
            data = ex.load_block(s, n, f, x)
            if data is None:
                continue
            po = s[L.pte_pfn[n][f][x]] * BLOCK if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW) else -1
            bads += _bad_lines(ex, f, x, data, po, "loads through the mapping return")
        out += [f"P{n}: " + _fmt_bad(b) for b in _merge(bads)]
    return out


def _check_coherence(ex, s) -> list[str]:
    """mapping_matches_extents at byte level: loads through every PTE return what read(2)
    returns at that file offset (MAP_SHARED is coherent with read), and no PTE lies
    beyond EOF."""
    L, out = ex.L, []
    for n in L.procs:
        for f, x in L.file_blks:
            load = ex.load_block(s, n, f, x)
            if load is None:
                continue
            rng = f"bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1}"
            read = ex.read_block(s, f, x)
            zero = (
                " (the zero page)"
                if s[L.pte_kind[n][f][x]] == PTE_ZERO
                else (f" (pmem block p{s[L.pte_pfn[n][f][x]]})")
            )
            if read is None:
                out.append(
                    f"P{n} maps file {file_name(f)}, {rng} beyond EOF (i_size "
                    f"{s[L.size[f]] * BLOCK} bytes): loads return {ex.codec.summarize(load)}"
                )
            elif read != load:
                i = next(
                    i for i in range(0, BLOCK, LINE) if read[i : i + LINE] != load[i : i + LINE]
                )
                out.append(
                    f"P{n}'s mapping of file {file_name(f)}, {rng}: loads return "
                    f"{ex.codec.summarize(load)}{zero} but read(2) returns "
                    f"{ex.codec.summarize(read)} [offset {x * BLOCK + i}: load "
                    f"{hex_excerpt(load[i:])} vs read {hex_excerpt(read[i:])}]"
                )
    return out


def _check_reverse_map(ex, s) -> list[str]:
    """no_page_two_mappings at byte level: for every pmem block, the (file, index) pairs
    whose DAX entries and PTEs reach its bytes versus the owners page->mapping/index (or
    page->share) record; a missing owner is invisible to memory_failure(),
    dax_layout_busy_page() and dax_disassociate_entry()."""
    L, out = ex.L, []
    for p in L.phys:
        owners = sorted(
            {
                (f, x)
                for f, x in L.file_blks
                if s[L.xa_kind[f][x]] == XA_PFN and s[L.xa_pfn[f][x]] == p
            }
        )
        users = sorted(
            {
                (n, f, x)
                for n in L.procs
                for f, x in L.file_blks
                if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW) and s[L.pte_pfn[n][f][x]] == p
            }
        )
        m, idx, share = s[L.page_mapping[p]], s[L.page_index[p]], s[L.page_share[p]]
        if m == PG_NULL:
            ok, rec = not owners, "page->mapping is NULL"
        elif m == PG_SHARED:
            ok, rec = share == len(owners), f"page->share is {share}"
        else:
            ok = owners == [(m - 1, idx)]
            rec = f"page->mapping/index name only file {file_name(m - 1)} index {idx}"
        if ok:
            continue
        who = ", ".join(f"file {file_name(f)} index {x}" for f, x in owners) or "no file"
        ptes = ", ".join(f"P{n} at file {file_name(f)} offset {x * BLOCK}" for n, f, x in users)
        out.append(
            f"pmem bytes 0x{p * BLOCK:05x}-0x{p * BLOCK + BLOCK - 1:05x} (block p{p}, "
            f"holding {ex.codec.summarize(ex.pmem.load(p * BLOCK, BLOCK))}) are mapped "
            f"by {who}" + (f" (PTEs: {ptes})" if ptes else "") + f", but {rec}: "
            f"the kernel's reverse map of these bytes is wrong"
        )
    return out


def _check_sealed(ex, s) -> list[str]:
    """immutable_extents_never_move at byte level: a sealed file's data must stay at the
    physical address it had when sealed (what a program or device that took that address
    accesses); report a move and whether the bytes there now differ from read(2)."""
    L, out = ex.L, []
    for f, x in L.file_blks:
        if s[L.sealed[f]] != 1:
            continue
        q, p = s[L.ghost_seal_pblk[f][x]], s[L.ext_pblk[f][x]]
        moved = (
            s[L.ext_kind[f][x]] != WRITTEN
            or p != q
            or s[L.jext_kind[f][x]] != WRITTEN
            or s[L.jext_pblk[f][x]] != q
        )
        if not moved:
            continue
        at_seal = ex.pmem.load(q * BLOCK, BLOCK)
        read = ex.read_block(s, f, x) or bytes(BLOCK)
        msg = (
            f"sealed file {file_name(f)} block {x} was at pmem bytes 0x{q * BLOCK:05x}-"
            f"0x{q * BLOCK + BLOCK - 1:05x} (p{q}) when sealed but now lives at p{p}"
        )
        if at_seal != read:
            out.append(
                msg + f": the sealed physical range holds {ex.codec.summarize(at_seal)} "
                f"[pmem 0x{q * BLOCK:05x}: {hex_excerpt(at_seal)}] while read(2) returns "
                f"{ex.codec.summarize(read)}"
            )
        else:
            out.append(msg + " (the bytes at both addresses are still equal)")
    return out


def _seg_tokens(ex, data: bytes) -> list:
    """Token per segment of a 4096-byte block (None: torn or garbled)."""
    n = ex.seg_bytes
    return [ex.codec.segment_token(data[g * n : (g + 1) * n]) for g in ex.L.segs]


def _describe_seg(ex, data: bytes, g: int) -> str:
    n = ex.seg_bytes
    return ex.codec.summarize(data[g * n : (g + 1) * n])


def _check_last_write(ex, s) -> list[str]:
    """read_returns_last_write at byte level: the bytes read(2) returns within EOF, and the
    bytes loads through every PTE that maps the file return, hold the token userspace last
    wrote at that offset (the executor's own history of writes, stores, DMA, zeroing)."""
    L, out = ex.L, []

    def compare(where, f, x, data):
        for g, tok in enumerate(_seg_tokens(ex, data)):
            want = ex.last[(f, x, g)]
            if tok != want:
                start = x * BLOCK + g * ex.seg_bytes
                out.append(
                    f"{where} file {file_name(f)}, bytes {start}-{start + ex.seg_bytes - 1}"
                    f" return {_describe_seg(ex, data, g)}, but the last write there was "
                    f"{token_name(want) if want else 'zeros'}"
                )

    for f, x in L.file_blks:
        data = ex.read_block(s, f, x)
        if data is not None:
            compare("read(2) of", f, x, data)
    for n in L.procs:
        for f, x in L.file_blks:
            if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW, PTE_ZERO):
                compare(f"P{n}'s loads from", f, x, ex.load_block(s, n, f, x))
    return out


def _check_warnings(ex, s) -> list[str]:
    """no_kernel_warning: the WARN_ON_ONCE the replayed steps reach (the kernel's own
    report, as dmesg would show it), with the pmem page the warning is about."""
    return list(ex.warned)


def _check_shared_data(ex, s) -> list[str]:
    """dedupe_shares_equal_data at byte level: two offsets mapping one pmem block read the
    same bytes, so what userspace last wrote at both must be the same; report the offset
    whose own last write the shared bytes contradict."""
    L, out = ex.L, []
    for f, x in L.file_blks:
        if s[L.ext_kind[f][x]] != WRITTEN:
            continue
        for h, y in L.file_blks:
            if (
                (h, y) <= (f, x)
                or s[L.ext_kind[h][y]] != WRITTEN
                or s[L.ext_pblk[h][y]] != s[L.ext_pblk[f][x]]
            ):
                continue
            p = s[L.ext_pblk[f][x]]
            data = ex.pmem.load(p * BLOCK, BLOCK)
            for g, _tok in enumerate(_seg_tokens(ex, data)):
                a, b = ex.last[(f, x, g)], ex.last[(h, y, g)]
                if a != b:
                    start = g * ex.seg_bytes
                    out.append(
                        f"pmem block p{p} (bytes 0x{p * BLOCK + start:05x}-) is shared by "
                        f"file {file_name(f)} block {x} and file {file_name(h)} block {y} "
                        f"and holds {_describe_seg(ex, data, g)}, but the last writes "
                        f"there were {token_name(a)} and {token_name(b)}"
                    )
    return out


def _check_pins(ex, s) -> list[str]:
    """pinned_pages_stay_allocated at byte level: a pinned page is the DMA target; name the
    file block whose bytes the DMA would overwrite now."""
    L, out = ex.L, []
    for p in L.phys:
        if s[L.pinned[p]] != 1:
            continue
        f, x = s[L.pin_file[p]], s[L.pin_idx[p]]
        if s[L.ext_kind[f][x]] == WRITTEN and s[L.ext_pblk[f][x]] == p:
            continue
        now = [
            (h, y)
            for h, y in L.file_blks
            if s[L.ext_kind[h][y]] != HOLE and s[L.ext_pblk[h][y]] == p
        ]
        who = (
            ", ".join(f"file {file_name(h)} block {y}" for h, y in now) if now else "no file (free)"
        )
        out.append(
            f"pmem bytes 0x{p * BLOCK:05x}-0x{p * BLOCK + BLOCK - 1:05x} (p{p}, holding "
            f"{ex.codec.summarize(ex.pmem.load(p * BLOCK, BLOCK))}) are pinned for a DMA "
            f"into file {file_name(f)} block {x}, but now belong to {who}: the DMA "
            f"will land there"
        )
    return out


def _check_pmd(ex, s) -> list[str]:
    """pmd_excludes_pte: the PMD-order entry or mapping and the 4 KiB entries or PTEs that
    overlap it, with the bytes each maps."""
    L, out = ex.L, []
    for f in L.files:
        pmd = s[L.pmd_zero[f]] == 1 or s[L.pmd_pfn[f]] == 1
        for x in L.blks:
            own = s[L.xa_kind[f][x]] != 0 and s[L.xa_order[f][x]] != ORDER_PMD
            if pmd and own:
                out.append(
                    f"file {file_name(f)}: a PMD entry covers bytes 0-"
                    f"{len(L.blks) * BLOCK - 1} but index {x} (bytes {x * BLOCK}-"
                    f"{x * BLOCK + BLOCK - 1}) still has a 4 KiB entry of its own"
                )
        for n in L.procs:
            if s[L.pmd_map[n][f]] != 1:
                continue
            for x in L.blks:
                k = s[L.pte_kind[n][f][x]]
                ok = (
                    (k == PTE_ZERO)
                    if s[L.pmd_zero[f]] == 1
                    else (k in (PTE_RO, PTE_RW) and s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]])
                )
                if not ok:
                    load = ex.load_block(s, n, f, x)
                    what = (
                        "an anonymous CoW page"
                        if load is None
                        else f"loads return {ex.codec.summarize(load)}"
                    )
                    out.append(
                        f"P{n} maps file {file_name(f)} with a PMD and also with a PTE "
                        f"at bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1} ({what})"
                    )
    return out


def _check_dax_flag(ex, s) -> list[str]:
    """dax_flag_changes_only_when_unmapped: a file without S_DAX whose PTEs still reach pmem
    (stores there bypass the page cache the inode now uses)."""
    L, out = ex.L, []
    for f in L.files:
        if s[L.s_dax[f]] != 0:
            continue
        for n in L.procs:
            for x in L.blks:
                if s[L.pte_kind[n][f][x]] in (PTE_RO, PTE_RW, PTE_ZERO):
                    out.append(
                        f"file {file_name(f)} is no longer DAX (S_DAX clear) but P{n} "
                        f"still maps bytes {x * BLOCK}-{x * BLOCK + BLOCK - 1} to "
                        f"{'the zero page' if s[L.pte_kind[n][f][x]] == PTE_ZERO else f'pmem block p{s[L.pte_pfn[n][f][x]]}'}"
                    )
        for x in L.blks:
            if s[L.xa_kind[f][x]] != 0 and not any(
                s[L.pte_kind[n][f][x]] != PTE_NONE for n in L.procs
            ):
                out.append(
                    f"file {file_name(f)} is no longer DAX (S_DAX clear) but its "
                    f"xarray still holds a DAX entry at index {x}"
                )
    return out


def _check_deadlock(ex, s) -> list[str]:
    """The cycles of threads the replayed interleaving left waiting for each other
    (``no_deadlock`` fails): per waiting thread of a cycle, its step and the lock the next
    one holds (a lock-state symptom: a deadlock has no byte-level effect of its own)."""
    m = ex.m
    L, D = m.L, m.design
    W = L.waits_for
    if W is None:
        return []
    out = []
    for c in cycles(L.threads):
        ts = c.threads
        pairs = [(ts[i], ts[(i + 1) % len(ts)]) for i in range(len(ts))]
        if not all(W(L, s, t, u) is True for t, u in pairs):
            continue
        waits = []
        for t, u in pairs:
            for a in m.actions:
                if isinstance(a, SplitOp) and a.thread == t and a.step and a.at(L, s) is True:
                    for n in a.needs(D, L, a.step):
                        if n.blocked_by(L, s, u) is True and a.blocked_by(D, L, s, u) is True:
                            waits.append(
                                f"T{t} ({a.name} at {a.STEPS[a.step]}) waits for "
                                f"{n.describe()}, held by T{u}"
                            )
        out.append(f"threads blocked forever ({c}): " + "; ".join(waits))
    return out


FINAL_CHECKS = {
    "no_stale_data": _check_reads,
    "no_deadlock": _check_deadlock,
    "mapping_matches_extents": _check_coherence,
    "no_page_two_mappings": _check_reverse_map,
    "immutable_extents_never_move": _check_sealed,
    "read_returns_last_write": _check_last_write,
    "no_kernel_warning": _check_warnings,
    "dedupe_shares_equal_data": _check_shared_data,
    "pinned_pages_stay_allocated": _check_pins,
    "pmd_excludes_pte": _check_pmd,
    "dax_flag_changes_only_when_unmapped": _check_dax_flag,
}
"""Property name -> its byte-level check ``(executor, final abstract state) -> [symptom
line]`` on the concrete bytes after a replay (used by :func:`~.executor.replay_concrete`
and the gate)."""


# ============================================================================ crashes
@dataclass
class CrashCheck:
    """The crash images checked at one crash point.

    after_step: the trace step after which the crash happens; at_end: the crash was added
    after the last step (durability property) rather than being a step of the trace;
    possible: number of distinct images; checked / failed: images checked and failing;
    sampled: True when ``possible`` exceeded 2^12 and a seeded sample was checked;
    failures: ``{description: images}`` aggregated over failing images; details: the bad
    byte ranges of the first few failing images.
    """

    after_step: int
    at_end: bool
    possible: int
    checked: int = 0
    failed: int = 0
    sampled: bool = False
    seed: int = 0
    failures: Counter = field(default_factory=Counter)
    details: list = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        how = (
            f"{self.checked} sampled (seed {self.seed}) of {self.possible} possible"
            if self.sampled
            else f"{self.checked} of {self.possible} (all)"
        )
        where = "at the end of the trace" if self.at_end else f"at step {self.after_step}"
        out = [f"crash {where}: {how} crash images checked, {self.failed} failed"]
        for desc, n in self.failures.most_common():
            out.append(f"  {desc}: in {n} image{'s' if n != 1 else ''}")
        out += [f"  {d}" for d in self.details]
        return out


def _check_recovered(ex, rec, media: bytes) -> list[_Bad]:
    """Byte-level properties after recovery: ``rec`` is the abstract state after Crash
    (recovered map and sizes, surviving ghost promises), ``media`` the crash image."""
    L, bads = ex.L, []
    for f, x in L.file_blks:
        promise = lambda g, f=f, x=x: rec[L.ghost_durable[f][x][g]]
        data = ex.read_block(rec, f, x, media)
        if data is None:
            for g in L.segs:
                want = promise(g)
                if want and want - 1 != 0:
                    start = x * BLOCK + g * ex.seg_bytes
                    bads.append(
                        _Bad(
                            f,
                            start,
                            start + ex.seg_bytes - 1,
                            f"promised {token_name(want - 1)} by a sync, but the "
                            f"recovered file ends at byte {rec[L.size[f]] * BLOCK}: "
                            f"the data is lost",
                            -1,
                            b"",
                        )
                    )
            continue
        po = rec[L.ext_pblk[f][x]] * BLOCK if rec[L.ext_kind[f][x]] == WRITTEN else -1
        bads += _bad_lines(ex, f, x, data, po, "after recovery reads", promise)
    return _merge(bads)


def crash_point(ex, rec, after_step, crash_states, seed, *, at_end) -> CrashCheck:
    """The crash images of executor ``ex``'s pmem buffer at one crash point, each recovered
    with ``rec`` (the abstract state after Crash) and checked (:class:`CrashCheck`).
    ``crash_states``: ``"all"`` (up to 2^12 images, else a sample of that many) or a
    sample size; ``seed``: the sampling seed."""
    pm = ex.pmem
    possible = pm.crash_image_count()
    sample = MAX_ENUM if crash_states == "all" else int(crash_states)
    cc = CrashCheck(after_step, at_end, possible, sampled=possible > MAX_ENUM, seed=seed)
    for img in pm.crash_images(sample=sample, seed=seed):
        cc.checked += 1
        bads = _check_recovered(ex, rec, img.media)
        if not bads:
            continue
        cc.failed += 1
        for d in {f"file {file_name(b.file)}: {b.desc.split(' [')[0]}" for b in bads}:
            cc.failures[d] += 1
        if len(cc.details) < MAX_DETAILS:
            n_lines = len(img.choice)
            cc.details.append(
                f"image #{img.index} ({img.persisted_lines()} of {n_lines} lines "
                f"with unpersisted stores reached the media): "
                + "; ".join(_fmt_bad(b) for b in bads[:3])
            )
    return cc

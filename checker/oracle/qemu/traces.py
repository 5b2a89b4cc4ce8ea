"""Shipped counterexamples on the real kernel: a trace's spec actions as syscalls.

:func:`ops_from_trace` maps each action of a counterexample (an ITF trace, read by
:func:`~daxcheck.checker.trace.read_itf`) to a real-DAX oracle op, or says why it cannot:

* mmap / mmap_private / munmap / msync / fdatasync / fsync / write / fallocate / punch /
  zero_range / collapse_range / insert_range / unshare / dedupe / truncate / reflink /
  reflink_range / crash map to :class:`~.dax_oracle.Map` ...
  :class:`~.dax_oracle.Crash` ('kill': a real power cut);
* a read fault maps to a load through the mapping (:class:`~.dax_oracle.MLoad`), a write
  fault followed by a store to the same page to one store (:class:`~.dax_oracle.MStore`:
  the store takes the fault);
* read(2) needs no op (every file is read after every op), nor do a cache flush or a cache
  line eviction (QEMU has no CPU cache model: every store is on media at once, the member
  of the spec's crash set the kernel shows);
* not mappable: the block-map seal (proposed in 2017, never merged), PMD faults (the spec's
  PMD is two blocks, the kernel's 2 MiB), get_user_pages pins and DMA, the per-inode DAX
  flag, a second process, and the split steps of race designs (interleavings of kernel
  threads cannot be forced from userspace).
* a write fault not followed by a store maps to :class:`~.dax_oracle.MTouch` (a byte loaded
  and stored back).

:func:`check_on_kernel` runs a mapped trace on the booted guest against the kernel's design
(``xfs-<kernel>``, the fixed behaviour) and against the trace's own design's settings (the
broken behaviour): the kernel must match the first and differ from the second.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ....spec import ops as A
from ....spec.designs import Design
from ....spec.kernels import kernel_design
from ....spec.state import SEGS
from .dax_oracle import (
    Clone,
    CloneRange,
    CollapseRange,
    Crash,
    Dedupe,
    Falloc,
    Fdatasync,
    Fsync,
    InsertRange,
    Map,
    MLoad,
    MStore,
    Msync,
    MTouch,
    PunchHole,
    PWrite,
    Trunc,
    Unmap,
    Unshare,
    ZeroRange,
    run_sequence,
)
from .guest import DaxGuest

NOT_MAPPED = {
    "seal": "FALLOC_FL_SEAL_BLOCK_MAP was proposed in 2017 and never merged",
    "pmd_fault": "the spec's PMD spans two blocks, the kernel's 2 MiB",
    "pmd_write_fault": "the spec's PMD spans two blocks, the kernel's 2 MiB",
    "pin": "a get_user_pages pin (O_DIRECT into a DAX mapping) has no oracle op",
    "dma": "DMA into a pinned page has no oracle op",
    "dax_toggle": "the per-inode DAX flag needs a dax=inode mount the oracle does not use",
    "evict_inode": "inode eviction cannot be forced from userspace",
}
"""Action names that do not map to syscalls -> why."""

NO_OP = ("read", "flush", "evict")
"""Actions with nothing to run on the kernel (see the module docstring)."""


class NotMappable(ValueError):
    """The trace has an action with no syscall equivalent; the message says which and why."""


CRASH_PROPERTIES = ("durable_after_sync", "no_stale_data_after_crash")
"""Properties about what a crash would leave: a trace violating one ends where a power cut
would show the loss, so :func:`ops_from_trace` ends it with a crash."""


def ops_from_trace(actions, design, prop: str | None = None) -> tuple[int, int, list]:
    """``(files, blocks, ops)`` for the oracle: ``actions`` (a trace's spec actions) as ops
    over ``max(2, files)`` files of the design's bounds' blocks, followed by observers: a
    load of every segment of every file still mapped (what the mapping shows now) and, for
    a trace of a crash property (:data:`CRASH_PROPERTIES`) not already ending in a crash,
    a crash (kill).  Raises NotMappable naming the first action that cannot be run as
    syscalls, and why."""
    b = design.bounds
    if design.threaded:
        raise NotMappable(
            f"design {design.name} interleaves split kernel operations of "
            f"several threads: a schedule cannot be forced from userspace"
        )
    if b.blocks > 3 or b.files > 3:
        raise NotMappable(f"bounds {b.files} files x {b.blocks} blocks exceed the oracle's 3 x 3")
    ops: list = []
    acts = list(actions)
    i = 0
    while i < len(acts):
        a = acts[i]
        where = f"step {i + 1} {a.describe()}"
        if getattr(a, "proc", 0) != 0:
            raise NotMappable(f"{where}: a second process (the oracle maps one per file)")
        if a.name in NOT_MAPPED:
            raise NotMappable(f"{where}: {NOT_MAPPED[a.name]}")
        if a.name in NO_OP:
            pass
        elif isinstance(a, A.Fault) and not a.write:
            ops.append(MLoad(a.file, a.idx * SEGS))
        elif isinstance(a, A.Fault):
            nxt = acts[i + 1] if i + 1 < len(acts) else None
            if isinstance(nxt, A.Store) and (nxt.file, nxt.idx) == (a.file, a.idx):
                ops.append(MStore(a.file, a.idx * SEGS + nxt.seg, nxt.token))
                i += 1
            else:
                ops.append(MTouch(a.file, a.idx))
        else:
            ops.append(_simple(a, where))
        i += 1
    mapped = {}
    for op in ops:
        if isinstance(op, Map):
            mapped[op.file] = True
        elif isinstance(op, Unmap):
            mapped.pop(op.file, None)
    ops += [MLoad(f, g) for f in sorted(mapped) for g in range(b.blocks * SEGS)]
    if prop in CRASH_PROPERTIES and not (ops and isinstance(ops[-1], Crash)):
        ops.append(Crash("kill"))
    return max(2, b.files), b.blocks, ops


def _simple(a, where: str):
    """The one op for an action with a direct syscall."""
    if isinstance(a, A.Store):
        return MStore(a.file, a.idx * SEGS + a.seg, a.token)
    if isinstance(a, A.Mmap):
        return Map(a.file, "sync" if a.sync else "shared")
    if isinstance(a, A.MmapPrivate):
        return Map(a.file, "private")
    if isinstance(a, A.Munmap):
        return Unmap(a.file)
    if isinstance(a, A.Msync):
        return Msync(a.file)
    if isinstance(a, A.Fsync):
        return Fsync(a.file)
    if isinstance(a, A.Fdatasync):
        return Fdatasync(a.file)
    if isinstance(a, A.Write):
        return PWrite(a.file, a.idx * SEGS + a.lo, a.hi - a.lo + 1, a.token)
    if isinstance(a, A.Fallocate):
        return Falloc(a.file, a.idx)
    if isinstance(a, A.Punch):
        return PunchHole(a.file, a.idx)
    if isinstance(a, A.Truncate):
        return Trunc(a.file, a.size)
    if isinstance(a, A.Reflink):
        return Clone(a.src, a.dst)
    if isinstance(a, A.ReflinkRange):
        return CloneRange(a.src, a.soff, a.dst, a.doff, a.length)
    if isinstance(a, A.Crash):
        return Crash("kill")
    if isinstance(a, A.ZeroRange):
        return ZeroRange(a.file, a.idx, a.lo, a.hi)
    if isinstance(a, A.CollapseRange):
        return CollapseRange(a.file, a.idx)
    if isinstance(a, A.InsertRange):
        return InsertRange(a.file, a.idx)
    if isinstance(a, A.Unshare):
        return Unshare(a.file, a.idx)
    if isinstance(a, A.Dedupe):
        return Dedupe(a.src, a.soff, a.dst, a.doff, a.length)
    raise NotMappable(f"{where}: no syscall for action {a.name}")


SCOPE_SETTINGS = ("partial_writes", "pmd_pfn_entries")
"""Settings that choose what a design explores, not what the kernel does."""


def bug_settings(design) -> dict:
    """The settings in which ``design`` differs from :class:`Design`'s defaults (the merged
    6.x behaviour), scope settings left out: the design's bug, for a shipped broken design."""
    defaults = {f.name: f.default for f in dataclasses.fields(Design)}
    return {
        k: v
        for k, v in design.settings().items()
        if k not in SCOPE_SETTINGS and v != defaults.get(k, v)
    }


@dataclass
class KernelReplay:
    """One counterexample on the kernel: ``fixed`` and ``broken`` are the
    :class:`~.dax_oracle.Outcome` against the kernel's design and against it with the trace
    design's bug settings (:func:`bug_settings`; None when the kernel has every one of them,
    or the design differs in code, not settings); ``differing`` those settings."""

    ops: list
    fixed: object
    broken: object
    differing: dict
    bug: dict

    @property
    def kernel_has_bug(self) -> bool:
        """The trace's design differs from the defaults only in settings the kernel's
        design has too: the counterexample is the kernel's own behaviour."""
        return bool(self.bug) and not self.differing

    @property
    def shows_fixed(self) -> bool:
        """The kernel matched its own design at every op."""
        return self.fixed.status == "match"

    @property
    def tells_apart(self) -> bool:
        """The kernel's observations differ from the broken design's predictions."""
        return self.broken is not None and self.broken.status == "mismatch"


def check_on_kernel(
    guest: DaxGuest, kernel: str, actions, design, prop: str | None = None
) -> KernelReplay:
    """Run a trace's actions (:func:`ops_from_trace`) on the booted ``guest`` against
    ``xfs-<kernel>`` and against that design with ``design``'s bug settings that the kernel
    does not have (``prop``: the trace's property, see :func:`ops_from_trace`).  Raises
    NotMappable, GuestError."""
    files, blocks, ops = ops_from_trace(actions, design, prop)
    bug = bug_settings(design)
    differing = {k: v for k, v in bug.items() if kernel_design(kernel).settings()[k] != v}
    fixed = run_sequence(guest, kernel, files, blocks, ops)
    broken = run_sequence(guest, kernel, files, blocks, ops, differing) if differing else None
    return KernelReplay(ops, fixed, broken, differing, bug)

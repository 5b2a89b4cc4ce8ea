"""docs/extending.md, the tutorial's file: reintroduce a kernel bug with a hook override, a
new operation, a ghost field and an invariant, all in this one file.

The kernel path: the iomap direct-I/O code (4.18, "iomap: Use FUA for pure data O_DSYNC DIO
writes") skips the journal commit of an O_DSYNC write when ->iomap_begin does not report
IOMAP_F_DIRTY: a pure data overwrite needs no metadata on disk to be found again.  That is
only safe if the filesystem reports IOMAP_F_DIRTY whenever the inode has metadata not yet in
the log (xfs_ipincount), not just when this very call allocated the block.

Run it (from the repository root):

    daxcheck check --designs tests/user_files/dsync_write.py \\
                   --properties tests/user_files/dsync_write.py \\
                   --design dsync-dirty-if-new --design dsync-dirty-if-pinned
"""
from dataclasses import dataclass, fields
from typing import ClassVar

from daxcheck.properties import invariant
from daxcheck.spec import fsdax
from daxcheck.spec.actions import Action, Write, action
from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.state import Bounds, ghost_field
from daxcheck.spec.vocab import And, Implies, draft, freeze, when

# 1. A ghost field: the data an O_DSYNC write told its caller is durable (0 = no promise,
#    else token + 1), per file block segment.
ghost_field("dsync_promise", ("file", "blk", "seg"), kind="promise",
            doc="token an O_DSYNC write promised durable at this offset (token + 1)")


# 2. A new operation: pwritev2(RWF_DSYNC) of a whole block, as the iomap DIO path runs it.
@action
@dataclass(frozen=True)
class DsyncWrite(Action):
    """pwritev2(RWF_DSYNC) of ``token`` to block ``idx`` of ``file`` (iomap_dio_rw): the
    write(2) path (->iomap_begin allocates or CoWs, the data is stored), then
    generic_write_sync (force the log) only when ->iomap_begin reported IOMAP_F_DIRTY; a
    pure overwrite skips it (FUA)."""

    name: ClassVar[str] = "dsync_write"
    file: int
    idx: int
    token: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, t = self.file, self.idx, self.token
        new = D.iomap_f_new(L, s, f, x)                  # asked before ->iomap_begin runs
        w = Write(f, x, 0, len(L.segs) - 1, t).apply(m, s)   # dax_iomap_rw, as write(2)
        if w is None:
            return None
        d = draft(w)
        when(d, D.iomap_f_dirty(L, d, f, x, new), lambda d: D.xfs_log_force(L, d))
        for g in L.segs:
            d[L.dsync_promise[f][x][g]] = t + 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x, t) for f in L.files for x in L.blks for t in L.toks]


# 3. An invariant over the ghost field: while the offset still holds what the O_DSYNC write
#    stored (ghost_last, which every operation keeps), a crash now would leave it readable.
@invariant(each=lambda L: L.file_blk_segs)
def dsync_writes_survive_crash(L, s, fxg):
    """Data an O_DSYNC write returned for survives a crash at any moment while the offset
    still holds it: the journaled extent map and size and the media give it back.  Catches
    a filesystem that reports IOMAP_F_DIRTY only for blocks the call itself allocated, so the
    iomap DIO path skips the log force for an overwrite of a block whose allocation is
    still only in memory."""
    f, x, g = fxg
    promise = s[L.dsync_promise[f][x][g]]
    return Implies(And(promise != 0, s[L.ghost_last[f][x][g]] == promise - 1),
                   fsdax.persisted_view(L, s, f, x, g) == promise - 1)


# 4. The hook override: the kernel bug, IOMAP_F_DIRTY only for a newly allocated block.
@dataclass(frozen=True)
class DirtyOnlyIfNew(Design):
    def iomap_f_dirty(self, L, s, f, x, new):
        return new


SCOPE = dict(families=("write", "read", "dsync_write", "fdatasync", "crash"),
             bounds=Bounds(files=1, blocks=1, phys=2, tokens=2, procs=1, depth=4),
             partial_writes=False)
FIXED = DESIGNS["map-sync"].variant(
    name="dsync-dirty-if-pinned", seed="user", cite="docs/extending.md",
    summary="IOMAP_F_DIRTY while the inode has unlogged metadata: O_DSYNC overwrites force "
            "the log when needed", **SCOPE)
register_design(FIXED)
register_design(DirtyOnlyIfNew(**{**{f.name: getattr(FIXED, f.name) for f in fields(Design)},
                                  "name": "dsync-dirty-if-new",
                                  "summary": "IOMAP_F_DIRTY only when ->iomap_begin allocated",
                                  "expect_violated": frozenset({"dsync_writes_survive_crash"})}))

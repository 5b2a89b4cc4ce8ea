"""A concurrent double-zeroing bug (issue 25), written from the public API alone: two write
faults on one newly allocated block both zero it, so data stored through the first fault's
PTE is wiped by the second.

The kernel path: before 4.9, ext2/ext4 DAX allocated a faulting hole's block unwritten (or
"new") and __dax_fault zeroed it afterwards (dax_clear_sectors on buffer_new /
buffer_unwritten), outside the allocation's lock and, before the DAX entry locks of 4.7,
outside any lock two faults share: both faults on a fresh block see it new and both zero it.
Fixed by allocating blocks already zeroed under the allocation lock ('ext4: implement
allocation of pre-zeroed blocks', 'ext2: Return BH_New buffers for zeroed blocks', Jan
Kara, 2016; XFS's XFS_BMAPI_ZERO), so the second fault finds a written block.

The split write fault on a shared mapping, ``dax_write_fault``, has the zeroing as a step
of its own (``dax_iomap_zero``); the bug is one hook, ``xfs_bmapi_zero``.

    daxcheck check --designs tests/user_files/double_zero.py \\
                   --properties tests/user_files/double_zero.py \\
                   --design double-zero-unlocked --design double-zero-prezeroed
"""
from dataclasses import dataclass, fields

from daxcheck.properties import invariant
from daxcheck.spec.kernel.views import load_view
from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.state import PTE_RW, Bounds
from daxcheck.spec.vocab import Implies


# 1. The property, in the user's words: a store through a writable PTE is not lost while
#    the PTE still maps the block (read-after-write through the mapping).
@invariant(each=lambda L: L.file_blk_segs)
def stores_are_not_zeroed(L, s, fxg):
    """While process 0 maps the offset writable, a load through its PTE returns the data
    last written there.  Catches a second zeroing of a block that already holds data."""
    f, x, g = fxg
    return Implies(s[L.pte_kind[0][f][x]] == PTE_RW,
                   load_view(L, s, 0, f, x, g) == s[L.ghost_last[f][x][g]])


# 2. The bug: ->iomap_begin allocates a hole's block unwritten and leaves the zeroing to the
#    fault (each fault that sees the block new zeroes it).
@dataclass(frozen=True)
class ZeroInFault(Design):
    def xfs_bmapi_zero(self, L, op):
        return False


SCOPE = dict(families=("mmap", "truncate", "store", "dax_write_fault"),
             bounds=Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=30, threads=2),
             fault_entry_lock="after-iomap", seed="user", partial_writes=False,
             cite="ext4: implement allocation of pre-zeroed blocks (Jan Kara, 2016)")
FIXED = register_design(DESIGNS["fault-write-entry-lock"].variant(
    name="double-zero-prezeroed",
    summary="blocks are allocated zeroed under the allocation lock (XFS_BMAPI_ZERO): the "
            "second fault finds a written block and zeroes nothing",
    expect_violated=frozenset(), **SCOPE))
BUGGY = register_design(ZeroInFault(**{
    **{f.name: getattr(FIXED, f.name) for f in fields(Design)},
    "name": "double-zero-unlocked",
    "summary": "each write fault that saw the block new zeroes it after ->iomap_begin: the "
               "second zeroing wipes a store made through the first fault's PTE",
    "expect_violated": frozenset({"read_returns_last_write", "stores_are_not_zeroed"})}))

"""fs/dax.c: the DAX entry wait table and the fault path's zeroing of a new block, as the
split operations use them (issue 25).

* A thread that finds a DAX entry locked sleeps on a wait queue (wait_entry_unlocked:
  prepare_to_wait_exclusive on ``wait_table[hash]``); the key is the mapping and the
  entry's index, the PMD's first index for a PMD entry (dax_entry_waitqueue).  In the
  model the key is ``file * blocks + index + 1`` (the hash of the kernel only picks a
  bucket; wake_exceptional_entry_func compares the whole key), kept in the sleeping thread's
  ``th_wq`` field (0 = runnable).  dax_unlock_entry / put_unlocked_entry wake the next
  waiter with the key (``dax_wake_entry(..., WAKE_NEXT)``), an entry's deletion every waiter
  (WAKE_ALL).  A waker and a waiter that compute different keys lose the wakeup.
* ->iomap_begin(IOMAP_WRITE) on a hole allocates a block either zeroed and written under
  the ILOCK (XFS_BMAPI_ZERO: ``xfs_bmapi_zero``) or unwritten, left for the fault to zero
  after ->iomap_begin (``dax_iomap_zero``: 4.x __dax_fault's dax_clear_sectors on
  buffer_new/buffer_unwritten, before 'ext4: implement allocation of pre-zeroed blocks',
  Jan Kara 2016): two faults that both see the block new both zero it.
"""

from __future__ import annotations

from ..state import ORDER_PMD, WRITTEN
from ..vocab import And, If, Not, Or
from .pmem import zero_block
from .registry import kernel_function

DAX = "fs/dax.c"


def entry_key(L, f, index):
    """The model's wait-queue key of file ``f``'s entry at ``index`` (>= 1; 0 means "not
    sleeping")."""
    return f * len(L.blks) + index + 1


@kernel_function(DAX)
def dax_entry_waitqueue(D, L, s, f, x, pmd):
    """dax_entry_waitqueue (fs/dax.c): the wait-queue key of ``f``'s DAX entry at index
    ``x``: the mapping and the index, rounded down to the PMD (``index &= ~PG_PMD_COLOUR``;
    the model's PMD spans every block) when ``pmd`` (the entry is a PMD entry: a vocabulary
    condition or a bool).  Returns the key (an int or a term, see :func:`entry_key`)."""
    if pmd is False:
        return entry_key(L, f, x)
    return If(pmd, entry_key(L, f, 0), entry_key(L, f, x))


def entry_is_pmd(L, s, f, x):
    """Whether ``f``'s entry at ``x`` is a PMD entry (dax_is_pmd_entry; vocabulary)."""
    return s[L.xa_order[f][x]] == ORDER_PMD


@kernel_function(DAX)
def dax_wake_entry(D, L, d, f, x, wake_all):
    """dax_wake_entry (fs/dax.c) -> __wake_up(wq, TASK_NORMAL, wake_all ? 0 : 1, &key): wake
    the threads sleeping on the key of ``f``'s entry at ``x`` (``D.dax_entry_waitqueue``):
    every one for ``wake_all`` (WAKE_ALL), else the first (WAKE_NEXT: an exclusive waiter;
    the model's queue order is the thread order).  Edits draft ``d`` (``th_wq``)."""
    key = D.dax_entry_waitqueue(L, d, f, x, entry_is_pmd(L, d, f, x))
    earlier = None  # an earlier thread was woken (WAKE_NEXT wakes one)
    for u in L.threads:
        hit = d[L.th_wq[u]] == key
        wake = hit if wake_all or earlier is None else And(hit, Not(earlier))
        earlier = hit if earlier is None else Or(earlier, hit)
        d[L.th_wq[u]] = If(wake, 0, d[L.th_wq[u]])


@kernel_function("fs/xfs/libxfs/xfs_bmap.c")
def xfs_bmapi_zero(D, L, op):
    """XFS_BMAPI_ZERO (fs/xfs/libxfs/xfs_bmap.c, set by xfs_iomap_write_direct for DAX):
    ->iomap_begin(IOMAP_WRITE) from ``op`` ("fault") allocates a hole's block zeroed and
    written under the ILOCK (True, every modelled kernel), or unwritten and not zeroed, so
    the fault zeroes it after ->iomap_begin in its own step (``dax_iomap_zero``; 4.x ext2/ext4
    DAX before 'ext4: implement allocation of pre-zeroed blocks', Jan Kara 2016)."""
    return True


@kernel_function(DAX)
def dax_iomap_zero(D, L, d, f, x, b):
    """dax_iomap_zero (fs/dax.c; 4.x __dax_fault's dax_clear_sectors): zero block ``b``,
    which ->iomap_begin reported IOMAP_F_NEW for ``f``/``x``, and mark the extent written
    (the unwritten conversion of the fault's ->iomap_end).  Edits draft ``d``."""
    zero_block(L, d, b)
    d[L.ext_kind[f][x]] = WRITTEN

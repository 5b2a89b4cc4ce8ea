"""The split-operation framework (issue 11): :class:`SplitOp` (one action per thread,
operation arguments and step, the thread's program counter in per-thread fields ``th_*``),
the :func:`split` registration decorator and :data:`SPLIT_FAMILIES`, the lock helpers of a
step, and the waits-for relation (:func:`waits_for`, :func:`cycles`: the items of
``no_deadlock``).  The split operations themselves are in :mod:`.races`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from typing import ClassVar

from .. import locks
from ..state import HOLE, file_name
from ..vocab import And, If, Or, freeze, require, when
from .base import Action, action

DONE = 0
"""The "next step" of a step that ends its operation (the thread becomes idle)."""

SPLIT_FAMILIES: dict[str, type] = {}
"""Every split operation family by name, in registration order (``th_op`` = its position
+ 1)."""


def split(cls):
    """Class decorator: register ``cls`` (a :class:`SplitOp` subclass) as an action family
    and as a split operation.  Returns the registered class."""
    cls = action(cls)
    SPLIT_FAMILIES[cls.name] = cls
    return cls


class SplitOp(Action):
    """Base of a split operation.  A subclass is a frozen dataclass whose fields are
    ``thread``, the operation's arguments (a subset of ``proc``, ``file``, ``idx``, plus
    plain flags such as ``write`` that are part of the operation's identity) and ``step``
    (0 = the first step, taken from idle).  ``STEPS`` names each step's method, called as
    ``method(m, L, D, s)`` after the program-counter guard; it returns None (disabled) or
    ``(draft, next)`` with ``next`` the next step index or :data:`DONE` (a plain int or a
    vocabulary term).  ``needs(D, L, step)`` lists the locks step ``step`` waits for (its
    guard requires them free; ``no_deadlock`` and the partial-order reduction read them).
    ``RETRY``: steps that may go back to an earlier step (never reduced, see
    checker/explicit/por.py).  ``HOLDS``: the kinds of lock (:class:`~daxcheck.spec.locks.Need`
    kinds, "pin" for a get_user_pages pin) a thread may hold between steps of this
    operation, always on the operation's own file and index (the
    ``threads_hold_only_their_operations_locks`` lemma)."""

    STEPS: ClassVar[tuple] = ()
    RETRY: ClassVar[frozenset] = frozenset()
    HOLDS: ClassVar[tuple] = ()
    FLAGS: ClassVar[tuple] = ()
    TH_ARGS: ClassVar[dict] = {"proc": "proc", "file": "file", "idx": "idx"}
    """Which argument each thread field (``th_proc``, ``th_file``, ``th_idx``) keeps."""

    # ------------------------------------------------------------ program counter
    def code(self) -> int:
        """``th_op`` value of this operation (its family's position + 1)."""
        return list(SPLIT_FAMILIES).index(self.name) + 1

    def _arg(self, a):
        """The argument thread field ``a`` ("proc", "file", "idx") keeps (0 if none)."""
        return getattr(self, self.TH_ARGS.get(a, a), 0)

    def identity(self, L, s, t):
        """Thread ``t`` runs this operation with these arguments (vocabulary)."""
        conds = [s[L.th_op[t]] == self.code()]
        for a, o in (("proc", L.th_proc), ("file", L.th_file), ("idx", L.th_idx)):
            conds.append(s[o[t]] == self._arg(a))
        for _i, a in enumerate(self.FLAGS):
            conds.append(s[L.th_flag[t]] == (1 if getattr(self, a) else 0))
        return And(*conds)

    def at(self, L, s):
        """The thread is at this step: idle for step 0, else running this operation with
        these arguments at program counter ``step``."""
        t = self.thread
        if self.step == 0:
            return s[L.th_op[t]] == 0
        return And(self.identity(L, s, t), s[L.th_pc[t]] == self.step)

    def _goto(self, L, d, nxt):
        t = self.thread
        if type(nxt) is int:
            if nxt == DONE:
                for o in thread_offsets(L, t):
                    d[o] = 0
                return
            d[L.th_op[t]] = self.code()
            d[L.th_pc[t]] = nxt
            d[L.th_proc[t]] = self._arg("proc")
            d[L.th_file[t]] = self._arg("file")
            d[L.th_idx[t]] = self._arg("idx")
            d[L.th_flag[t]] = 1 if any(getattr(self, a) for a in self.FLAGS) else 0
            return
        done = nxt == DONE
        d[L.th_op[t]] = If(done, 0, self.code())
        d[L.th_pc[t]] = nxt
        d[L.th_proc[t]] = If(done, 0, self._arg("proc"))
        d[L.th_file[t]] = If(done, 0, self._arg("file"))
        d[L.th_idx[t]] = If(done, 0, self._arg("idx"))
        flag = 1 if any(getattr(self, a) for a in self.FLAGS) else 0
        d[L.th_flag[t]] = If(done, 0, flag)
        d[L.th_pblk[t]] = If(done, 0, d[L.th_pblk[t]])
        d[L.th_kind[t]] = If(done, 0, d[L.th_kind[t]])

    def apply(self, m, s):
        L, D = m.L, m.design
        if not require(And(self.at(L, s), self.lock_guard(D, L, s))):
            return None
        r = getattr(self, self.STEPS[self.step])(m, L, D, s)
        if r is None:
            return None
        d, nxt = r
        self._goto(L, d, nxt)
        return freeze(d)

    # ------------------------------------------------------------ locks
    def needs(self, D, L, step: int) -> tuple:
        """The locks step ``step`` of this operation waits for (default: none)."""
        return ()

    def lock_guard(self, D, L, s):
        """This step's wait (vocabulary): every lock of ``needs`` for this step is free.
        Checked by :meth:`apply` with the program counter, before the step's body."""
        return locks.free(L, s, self.needs(D, L, self.step))

    def blocked_by(self, D, L, s, u):
        """This step is blocked by a lock thread ``u`` holds (vocabulary)."""
        return Or(*[n.blocked_by(L, s, u) for n in self.needs(D, L, self.step)])

    def locked_out(self, D, L, s, u):
        """This step's guard requires a lock thread ``u`` holds, unconditionally, so the
        step stays disabled until ``u`` drops it (the partial-order reduction's test).  A
        pin is not such a lock (whether the page under an entry is pinned also changes
        with the entry), so a wait for a pin never counts."""
        return Or(*[n.blocked_by(L, s, u) for n in self.needs(D, L, self.step) if n.kind != "pin"])

    def describe(self) -> str:
        """As :meth:`Action.describe`, with the step shown by name."""
        parts = []
        for f in dc_fields(self):
            v = getattr(self, f.name)
            if f.name == "thread":
                parts.append(f"thread=T{v}")
            elif f.name == "step":
                parts.append(f"step={self.STEPS[v]}")
            elif f.name == "proc":
                parts.append(f"proc=P{v}")
            elif f.name == "file":
                parts.append(f"file={file_name(v)}")
            elif isinstance(v, bool):
                parts.append(f"{f.name}={'true' if v else 'false'}")
            else:
                parts.append(f"{f.name}={v}")
        return f"{self.name}(" + ", ".join(parts) + ")"

    @classmethod
    def op_instances(cls, L, D):
        """The operation's argument dicts (without thread and step)."""
        raise NotImplementedError

    NEXT: ClassVar[dict] = {}

    @classmethod
    def next_steps(cls, j: int) -> tuple:
        """The steps that may follow step ``j`` (``NEXT``, default ``j + 1``; none after the
        last): the operation's control flow, for the partial-order reduction."""
        if j in cls.NEXT:
            return cls.NEXT[j]
        return (j + 1,) if j + 1 < len(cls.STEPS) else ()

    @classmethod
    def instances(cls, L, D):
        return [
            cls(thread=t, step=i, **args)
            for t in L.threads
            for args in cls.op_instances(L, D)
            for i in range(len(cls.STEPS))
        ]


def thread_offsets(L, t):
    """The state offsets of thread ``t``'s program counter, arguments and locals."""
    return (
        L.th_op[t],
        L.th_pc[t],
        L.th_proc[t],
        L.th_file[t],
        L.th_idx[t],
        L.th_flag[t],
        L.th_pblk[t],
        L.th_kind[t],
    )


def take_locks(L, d, needs, t):
    """Thread ``t`` takes every lock of ``needs`` in draft ``d``."""
    for n in needs:
        locks.take(L, d, n, t)


def drop_locks(L, d, needs, t):
    """Thread ``t`` drops every lock of ``needs`` in draft ``d``."""
    for n in needs:
        locks.drop(L, d, n, t)


def bunmapi_unless_hole(L, D, s, d, f, x):
    """The ``xfs_bunmapi`` hook on ``f``/``x`` in draft ``d`` unless ``s`` has a hole there."""
    when(d, s[L.ext_kind[f][x]] != HOLE, lambda d: D.xfs_bunmapi(L, d, f, x))


LOCK_FIELDS = ("xa_lock", "io_excl", "mmap_excl", "mmap_shared", "pin_holder")
"""The lock fields: only split steps write them (checked by the partial-order reduction)."""


def waits_for(model):
    """The waits-for relation of ``model``'s threads, as ``W(L, s, t, u)``: thread ``t`` is
    at a step that needs a lock thread ``u`` holds (vocabulary); built from the split
    step instances in the model's scope."""
    D = model.design
    by_thread = {}
    for a in model.actions:
        if isinstance(a, SplitOp):
            by_thread.setdefault(a.thread, []).append(a)

    def W(L, s, t, u):
        return Or(
            *[
                And(a.at(L, s), a.blocked_by(D, L, s, u))
                for a in by_thread.get(t, ())
                if a.step > 0 and a.needs(D, L, a.step)
            ]
        )

    return W


@dataclass(frozen=True)
class WaitCycle:
    """A cycle of waiting threads (an item of ``no_deadlock``): ``threads[i]`` waits for a
    lock ``threads[i + 1]`` holds, the last for one the first holds; shown as
    ``T0 -> T1 -> T0``."""

    threads: tuple

    def __str__(self):
        return " -> ".join(f"T{t}" for t in self.threads + self.threads[:1])


def cycles(threads) -> list[WaitCycle]:
    """Every simple cycle of two or more distinct threads, each once (starting at its
    smallest thread): ``T0 -> T1 -> T0``, ``T0 -> T1 -> T2 -> T0``,
    ``T0 -> T2 -> T1 -> T0``...  (A thread never waits for a lock it holds itself:
    :meth:`~daxcheck.spec.locks.Need.blocked_by` is False for the taker.)"""
    ts = list(threads)
    out = []
    for r in range(2, len(ts) + 1):
        for c in itertools.permutations(ts, r):
            if c[0] == min(c):
                out.append(WaitCycle(c))
    return out

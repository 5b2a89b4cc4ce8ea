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
from ..locks import LOCK_FIELDS  # noqa: F401  (re-exported: the reductions import it here)
from ..state import EXT_NAMES, HOLE, ORDER_PMD, FieldSpec, file_name
from ..vocab import And, If, Or, freeze, require, when
from .base import Action, ActionDefinitionError, action

DONE = 0
"""The "next step" of a step that ends its operation (the thread becomes idle)."""

SPLIT_FAMILIES: dict[str, type[SplitOp]] = {}
"""Every split operation family by name, in registration order (``th_op`` = its position
+ 1)."""


@dataclass(frozen=True)
class Step:
    """One step of a split operation, declared in its ``STEPS``: ``body`` (a function
    ``body(op, m, L, D, s)`` written in the vocabulary, or the name of a method of the
    operation with that signature) returns None (disabled), a draft (the next step follows:
    ``step + 1``, or the end of the operation after the last step) or ``(draft, next)`` with
    ``next`` a step index or :data:`DONE` (a plain int or a vocabulary term).  ``waits``: the
    locks the step waits for (its guard requires them free; ``no_deadlock`` and the
    partial-order reduction read them); ``takes``: locks it waits for and then holds (taken
    after the body); ``drops``: locks it releases (after the body).  Each lock list is a tuple
    of :class:`~daxcheck.spec.locks.Need` or of lock names (``"entry"``, ``"mmap-shared"``, a
    user's :func:`~daxcheck.spec.locks.declare_lock` kind: the instance on the operation's
    own file and index, see :meth:`SplitOp.lock`), or a function ``(op, D, L)`` returning one
    (a lock discipline that is a design hook).  ``name``: the step's name in traces (default:
    the body's name).  ``sleeps``: the thread may be asleep on a wait queue at this step (its
    body put it there: :func:`sleep_on`), and the step runs only once a wakeup
    (``dax_wake_entry``) cleared that: a sleeping thread runs nothing.  Every DAX entry lock a
    step drops then wakes the next waiter on its key (``D.dax_wake_entry``) in a model with
    such steps."""

    body: object
    waits: object = ()
    takes: object = ()
    drops: object = ()
    name: str = ""
    sleeps: bool = False

    @property
    def title(self) -> str:
        """The step's name (``name``, else the body's)."""
        if self.name:
            return self.name
        return self.body if isinstance(self.body, str) else getattr(self.body, "__name__", "")


def split(cls):
    """Class decorator: register ``cls`` (a :class:`SplitOp` subclass) as an action family
    and as a split operation (a user file's too: the thread fields' domains are computed
    when a model is built).  ``STEPS`` may list :class:`Step` declarations: they become
    ``STEP_DECLS`` and ``STEPS`` their names, and each function body a method of that name.
    Raises ActionDefinitionError (from :func:`~daxcheck.spec.ops.base.action`) for a class
    that is not a valid action, and for an empty ``STEPS``.  Returns the registered class."""
    steps = tuple(cls.__dict__.get("STEPS", cls.STEPS))
    if not steps:
        raise ActionDefinitionError(f"@split {cls.__name__} declares no STEPS")
    if any(isinstance(st, Step) for st in steps):
        decls = tuple(st if isinstance(st, Step) else Step(st) for st in steps)
        for st in decls:
            if not isinstance(st.body, str) and st.title not in cls.__dict__:
                setattr(cls, st.title, _method(st.body))
        cls.STEP_DECLS = decls
        cls.STEPS = tuple(st.title for st in decls)
    cls = action(cls)
    SPLIT_FAMILIES[cls.name] = cls
    return cls


def _method(body):
    def step(self, m, L, D, s):
        return body(self, m, L, D, s)

    step.__name__ = step.__qualname__ = body.__name__
    step.__doc__ = body.__doc__
    return step


class SplitOp(Action):
    """Base of a split operation.  A subclass is a frozen dataclass whose fields are
    ``thread``, the operation's arguments (a subset of ``proc``, ``file``, ``idx``, plus
    plain flags such as ``write`` that are part of the operation's identity) and ``step``
    (0 = the first step, taken from idle).  ``STEPS`` declares the steps, each a
    :class:`Step` (its body and the locks it waits on, takes and drops) or, the older form, a
    method name; a step's body is called as ``method(m, L, D, s)`` after the
    program-counter guard and returns None (disabled), a draft or ``(draft, next)`` with
    ``next`` the next step index or :data:`DONE` (a plain int or a vocabulary term).
    ``needs(D, L, step)`` lists the locks step ``step`` waits for (its guard requires them
    free; ``no_deadlock`` and the partial-order reduction read them; from the declarations
    unless overridden).  ``RETRY``: steps that may go back to an earlier step (never
    reduced, see checker/explicit/por.py).  ``HOLDS``: the kinds of lock
    (:class:`~daxcheck.spec.locks.Need` kinds, "pin" for a get_user_pages pin) a thread may
    hold between steps of this operation, always on the operation's own file and index (the
    ``threads_hold_only_their_operations_locks`` lemma)."""

    STEPS: ClassVar[tuple] = ()
    STEP_DECLS: ClassVar[tuple] = ()
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
        here = And(self.identity(L, s, t), s[L.th_pc[t]] == self.step)
        if self.STEP_DECLS and self.STEP_DECLS[self.step].sleeps:
            return And(here, s[L.th_wq[t]] == 0)
        return here

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
        if isinstance(r, tuple):
            d, nxt = r
        else:
            d, nxt = r, (self.step + 1 if self.step + 1 < len(self.STEPS) else DONE)
        if self.STEP_DECLS:
            take_locks(L, d, self.declared(D, L, self.step, "takes"), self.thread)
            dropped = self.declared(D, L, self.step, "drops")
            drop_locks(L, d, dropped, self.thread)
            if getattr(L, "sleepers", False):  # dax_unlock_entry -> dax_wake_entry(WAKE_NEXT)
                for n in dropped:
                    if n.kind == "entry":
                        D.dax_wake_entry(L, d, n.file, n.idx, False)  # noqa: FBT003 (a hook: positional)
        self._goto(L, d, nxt)
        return freeze(d)

    # ------------------------------------------------------------ locks
    def needs(self, D, L, step: int) -> tuple:
        """The locks step ``step`` of this operation waits for: its declaration's ``waits``
        and ``takes`` (:class:`Step`; none for a step declared by name only)."""
        if not self.STEP_DECLS:
            return ()
        out = []
        for n in self.declared(D, L, step, "waits") + self.declared(D, L, step, "takes"):
            if n not in out:
                out.append(n)
        return tuple(out)

    def declared(self, D, L, step: int, part: str) -> tuple:
        """The Needs of step ``step``'s declared ``part`` ("waits", "takes", "drops") in design
        ``D`` (memoised per layout: they depend on the design and the bounds, not the
        state)."""
        memo = L.__dict__.setdefault("split_lock_memo", {})
        key = (self, step, part)
        hit = memo.get(key)
        if hit is not None and hit[0] is D:
            return hit[1]
        needs = self.resolve(getattr(self.STEP_DECLS[step], part), D, L)
        memo[key] = (D, needs)
        return needs

    def lock(self, kind: str, idx=None) -> locks.Need:
        """The :class:`~daxcheck.spec.locks.Need` ``kind`` of this operation's thread on its
        own file (argument ``file``) and index (``idx``, default the argument ``idx``; 0 for a
        lock kind that is per inode).  Raises LockError for an undeclared lock."""
        f = self._arg("file")
        x = self._arg("idx") if idx is None else idx
        if kind != "pin" and "blk" not in locks.lock_of(kind)[0].per:
            x = 0
        return locks.Need(kind, f, x, getattr(self, "thread"))  # noqa: B009 (a subclass field)

    def resolve(self, spec, D, L) -> tuple:
        """The Needs of a :class:`Step` lock list (a tuple of Needs or lock names, or a
        function ``(op, D, L)`` returning one)."""
        if callable(spec):
            spec = spec(self, D, L)
        return tuple(n if isinstance(n, locks.Need) else self.lock(n) for n in spec or ())

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
    ) + ((L.th_wq[t],) if getattr(L, "sleepers", False) else ())


def sleep_on(L, d, t, key):
    """Thread ``t`` goes to sleep on wait queue ``key`` (wait_entry_unlocked:
    prepare_to_wait_exclusive, then schedule; ``key`` from ``D.dax_entry_waitqueue``): its
    ``th_wq`` holds the key until a wakeup with that key clears it."""
    d[L.th_wq[t]] = key


def has_sleepers(actions) -> bool:
    """Some split step of ``actions`` may sleep on a wait queue (:attr:`Step.sleeps`)."""
    return any(isinstance(a, SplitOp) and any(st.sleeps for st in a.STEP_DECLS) for a in actions)


def sleeping_families(families) -> bool:
    """Some split operation among ``families`` (names) has a step that sleeps on a wait
    queue: its race layout gets ``th_wq``."""
    return any(
        any(st.sleeps for st in SPLIT_FAMILIES[f].STEP_DECLS)
        for f in families
        if f in SPLIT_FAMILIES
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


def waits_for(model):
    """The waits-for relation of ``model``'s threads, as ``W(L, s, t, u)``: thread ``t`` is
    at a step that needs a lock thread ``u`` holds, or sleeps on the wait queue of a DAX entry
    ``u`` holds locked (vocabulary); built from the split step instances in the model's
    scope."""
    D = model.design
    by_thread = {}
    for a in model.actions:
        if isinstance(a, SplitOp):
            by_thread.setdefault(a.thread, []).append(a)
    sleepers = has_sleepers(model.actions)

    def asleep(L, s, t, u):
        key = s[L.th_wq[t]]
        return Or(
            *[
                And(
                    s[L.xa_lock[f][x]] == u + 1,
                    key == D.dax_entry_waitqueue(L, s, f, x, s[L.xa_order[f][x]] == ORDER_PMD),
                )
                for f, x in L.file_blks
            ]
        )

    def W(L, s, t, u):
        waits = [
            And(a.at(L, s), a.blocked_by(D, L, s, u))
            for a in by_thread.get(t, ())
            if a.step > 0 and a.needs(D, L, a.step)
        ]
        if sleepers:
            waits.append(asleep(L, s, t, u))
        return Or(*waits)

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


# ============================================================================ state
def _pcs(b):
    return range(max(len(c.STEPS) for c in SPLIT_FAMILIES.values()) + 1)


def race_fields(*, sleepers: bool = False) -> tuple:
    """The per-thread and lock fields of a race design's states (after the shipped fields;
    in no other design's): the thread's operation (its domain: every split operation
    registered now, users' included), program counter, arguments and locals, the shipped
    locks' fields, then the fields of users' lock kinds
    (:func:`~daxcheck.spec.locks.declare_lock`); with ``sleepers`` (a split operation in scope
    has a step that sleeps on a wait queue: :func:`sleeping_families`) ``th_wq`` too, after
    the shipped lock fields."""
    op = FieldSpec(
        "th_op",
        ("thread",),
        "meta",
        ("idle",) + tuple(SPLIT_FAMILIES),
        "the split operation the kernel thread is in (idle = none)",
    )
    wq = (_TH_WQ,) if sleepers else ()
    return (op,) + _FIXED_FIELDS + wq + locks.lock_fields()


_TH_WQ = FieldSpec(
    "th_wq",
    ("thread",),
    "meta",
    None,
    "the wait queue the thread sleeps on (dax_entry_waitqueue key; 0: runnable)",
    lambda b: range(b.files * b.blocks + 1),
)


_FIXED_FIELDS = (
    FieldSpec("th_pc", ("thread",), "meta", None, "the thread's next step in its operation", _pcs),
    FieldSpec(
        "th_proc",
        ("thread",),
        "meta",
        None,
        "the operation's process argument",
        lambda b: range(b.procs),
    ),
    FieldSpec("th_file", ("thread",), "meta", "file", "the operation's file argument"),
    FieldSpec("th_idx", ("thread",), "meta", "blk", "the operation's file index argument"),
    FieldSpec(
        "th_flag",
        ("thread",),
        "meta",
        None,
        "the operation's flag argument (write)",
        lambda b: (0, 1),
    ),
    FieldSpec(
        "th_pblk",
        ("thread",),
        "meta",
        "pblk",
        "the physical block ->iomap_begin reported to an earlier step",
    ),
    FieldSpec(
        "th_kind",
        ("thread",),
        "meta",
        EXT_NAMES,
        "the extent state ->iomap_begin reported to an earlier step",
    ),
    FieldSpec(
        "xa_lock",
        ("file", "blk"),
        "xarray",
        "holder",
        "DAX_LOCKED: the thread holding the DAX entry lock (grab_mapping_entry)",
    ),
    FieldSpec(
        "mmap_excl",
        ("file",),
        "meta",
        "holder",
        "XFS_MMAPLOCK_EXCL / invalidate_lock held exclusive by",
    ),
    FieldSpec(
        "io_excl", ("file",), "meta", "holder", "i_rwsem (XFS_IOLOCK_EXCL) held across steps by"
    ),
    FieldSpec(
        "mmap_shared",
        ("file", "thread"),
        "meta",
        None,
        "XFS_MMAPLOCK_SHARED / invalidate_lock held shared by the thread",
        lambda b: (0, 1),
    ),
    FieldSpec(
        "pin_holder",
        ("phys",),
        "page",
        "holder",
        "the thread whose get_user_pages pin holds the page (0: a device's or none)",
    ),
)
"""The thread fields after ``th_op`` and the shipped locks' fields (:func:`race_fields`)."""

"""Transaction (Lipton) reduction by kernel locks for the race designs (issue 26):
``check --reduce lipton``.

Lipton (1975), Flanagan and Qadeer ("Transactions for software model checking", 2003),
and Spin's ``atomic`` / CIVL's movers: a step of a thread that commutes with every step
another thread could take before it is a *mover*, and a run of such steps can be
executed as one atomic block without losing reachable violations.  The kernel's locks
are what make steps commute here: while thread ``t`` holds the DAX entry lock of
``a[0]``, MMAPLOCK or i_rwsem, every other thread's step and atomic operation that needs
that lock is disabled, and only ``t``'s own steps release it.

**Mover classification** (semantic, from the taint read/write sets of
:func:`~.transitions.action_footprint` and the lock fields of
:data:`~daxcheck.spec.ops.split.LOCK_FIELDS`, never from step names): a split step that
writes only lock fields it waits for (:meth:`~daxcheck.spec.ops.split.SplitOp.needs`) is
an *acquire*, a right mover; one that writes a lock field it does not wait for is a
*release*, a left mover; a step whose dependent actions (below) all wait for some lock
is a *both-mover under a lock*; the rest are non-movers.  The classification the
explorer acts on is decided per state: in state ``s``, thread ``t``'s next step ``c``
(``t`` inside an operation; never an operation's first step, taken from idle) is a
**continuation** of the block ``t`` is running when

* ``c`` is enabled in ``s``;
* every action ``b`` that could conflict with ``c`` is *locked out by t* in ``s``: its
  guard needs a lock ``t`` holds in a conflicting mode (an atomic operation's
  :func:`~daxcheck.spec.locks.atomic_needs_of`), or, for another thread's split step, no
  path of that thread's own steps reaches ``b`` without a step locked out by ``t``
  (:func:`.por.may_run_before`).  ``b`` conflicts with ``c`` when their read/write sets
  overlap (``R(c)∩W(b)``, ``W(c)∩R(b)``, ``W(c)∩W(b)``), **or** when ``b`` writes the
  read set of a property conjunct that ``c`` writes (the per-property condition: a
  conjunct ``c`` changes may only mix state ``c`` changes with state no unlocked action
  changes, so its value in every interleaving is one the block's own states show).

So a continuation is a left mover in context (every action that could run between the
block's previous step and ``c`` is independent of ``c``) and never a blocking acquire:
the threads that could take a lock ``c`` waits for write that lock's field, which ``c``
reads, so they are locked out and ``c``'s acquire is uncontended.

**Exploration with maximal atomic blocks:** every enabled action of a stored state is
explored (no action is ever left out, so there is no ignoring problem); after a split
step of ``t`` the explorer keeps running ``t``'s continuations, so a block is an
operation's step followed by as many continuations as hold (at most
:data:`MAX_BLOCK`).  Only a block's last state is stored and de-duplicated; every
property conjunct the block's steps may change is checked on **every** state of the
block (they are computed anyway), and a counterexample is the whole action sequence, so
it replays like any other.

Why no violation is lost: take a full run reaching a first violation of conjunct ``I``
and its first point where some thread ``t``'s continuation ``c`` (enabled after ``t``'s
step, state ``x``) is not taken next.  The actions ``b1..bk`` that follow until ``c`` (or
the end) are independent of ``c`` and none of them writes a conjunct ``c`` writes, so
``c`` can be moved up to ``x`` (same final state; each state in between becomes its image
under ``c``).  If ``c`` does not write ``I``'s read set, ``I`` has the same value after the
move; if it does, none of ``b1..bk`` writes it, so ``I`` was already false in ``x``, a
state of the block, which is checked.  Repeating this turns the run into a run of
blocks.  ``no_deadlock`` is exempt from the conjunct rule as stable (as in :mod:`.por`):
a thread whose continuation is enabled is not waiting, the cycle is among other threads,
and ``c`` neither releases their locks nor moves them.

**Fall back:** the reduction is off (unreduced exploration, said in the statistics and
by ``check``) for a design without kernel threads, when an action other than a split step
writes a lock or thread field (the "only ``t`` releases ``t``'s locks" premise), when a
property conjunct or an action cannot be analysed by the taint backend, and when no step
can ever be a continuation.

Depth: the search runs in order of depth in *operations* (:func:`ops_depth`: atomic
actions plus split operations, completed or still running when the trace ends), the
measure the reduction preserves: moving a continuation earlier or appending one to a run
adds no operation (a continuation never begins one), and a violation caught inside a
block is caught on a prefix.  (Completed operations alone are not preserved: a full run
may stop inside an operation whose remaining steps the reduced run must finish.)  A
violation's ``depth`` is the length in actions of its trace.
"""

from __future__ import annotations

import time
from collections import Counter
from operator import itemgetter

from daxcheck.spec import locks
from daxcheck.spec.ops.split import LOCK_FIELDS, SplitOp

from ..engine import Budget
from ..results import VIOLATED, CheckResult, Stats, Verdict
from .explore import ReferenceRun, budget_stop, explore
from .por import may_run_before, private_fields, split_steps
from .readset import read_set
from .transitions import MemoSuccessors, action_footprint

STABLE = frozenset({"no_deadlock"})
"""Properties exempt from the per-conjunct rule: stable once violated (see above)."""

MAX_BLOCK = 64
"""The most steps in one atomic block (a retry loop of continuations ends there)."""


def ops_depth(model, actions) -> int:
    """A trace's depth in operations: its atomic actions plus its split operations (the
    completed ones and the one a thread may still be inside when the trace ends: each
    counted at its first step), among the action indices ``actions`` of ``model`` (``-1``
    entries, the initial state, are skipped)."""
    n = 0
    for i in actions:
        if i < 0:
            continue
        a = model.actions[i]
        if not isinstance(a, SplitOp) or a.step == 0:
            n += 1
    return n


class Transactions:
    """The mover classification and the continuation test of ``model`` for the Property
    list ``props`` (see the module docstring).  ``footprints``: per action its
    ``(reads, writes)`` offsets or None; ``steps``: per action its successor function
    (:attr:`~.transitions.MemoSuccessors.steps`; built when None).  ``active``: the reduction applies (else ``why``
    says why not).  ``kinds``: per split step action index its static mover class
    ("right", "left", "both", "non")."""

    def __init__(self, model, props, footprints, steps=None):
        self.model = model
        self.footprints = footprints
        self.L, self.D = model.L, model.design
        self.active = False
        self.why = None
        self.blocks = 0
        self.merged = 0
        self.cont: dict[int, tuple] = {}
        self.right: dict[int, tuple] = {}
        self.kinds: dict[int, str] = {}
        conj_reads = self._premises(props)
        if conj_reads is None:
            return
        self.steps = split_steps(model.actions)
        lock_offs = set()
        for name in LOCK_FIELDS:
            lock_offs.update(self.L.flat(name))
        self._classify(conj_reads, lock_offs)
        if not self.cont and not self.right:
            self.why = "no step of a thread can move past the others' steps in any state"
            return
        self.active = True
        L = self.L
        ident = []
        for t in L.threads:
            ident += [L.th_op[t], L.th_pc[t], L.th_proc[t], L.th_file[t], L.th_idx[t]]
            ident.append(L.th_flag[t])
        self.key = itemgetter(*sorted(lock_offs | set(ident)))
        self.thread_fields = {
            t: itemgetter(L.th_op[t], L.th_pc[t], L.th_proc[t], L.th_file[t], L.th_idx[t])
            for t in L.threads
        }
        self.cache: dict = {}
        self._needs: dict = {}
        self._wakers: dict = {}
        self.steps_of = steps or MemoSuccessors(model, footprints=footprints).steps

    def _premises(self, props):
        """The read sets of the checked properties' conjuncts (``no_deadlock`` exempt), or
        None (with :attr:`why`) when the reduction cannot apply: no kernel threads, an
        action or a conjunct the taint backend cannot follow, or an action other than a
        split step writing a lock or thread field."""
        L = self.L
        if not getattr(L, "races", False):
            self.why = "the design has no kernel threads"
            return None
        private = private_fields(L)
        for a, fp in zip(self.model.actions, self.footprints):
            if fp is None:
                self.why = f"{a.describe()} cannot be analysed (taint backend)"
                return None
            if not isinstance(a, SplitOp) and private & set(fp[1]):
                self.why = f"{a.describe()} writes a lock or thread field"
                return None
        conj_reads = []
        for p in props:
            if p.name in STABLE:
                continue
            for _, fn in p.conjuncts(L):
                rs = read_set(fn, L)
                if rs is None:
                    self.why = f"property {p.name} cannot be analysed (taint backend)"
                    return None
                conj_reads.append(frozenset(rs))
        return conj_reads

    def _classify(self, conj_reads, lock_offs) -> None:
        """Fill :attr:`kinds`, :attr:`at` (split step by thread identity), :attr:`right`
        (invisible steps: their dependents) and :attr:`cont` (steps that may continue a
        block: their dependents, the per-conjunct rule included)."""
        self.at = {}
        for i, (a, fp) in enumerate(zip(self.model.actions, self.footprints)):
            if not isinstance(a, SplitOp):
                continue
            self.at[(a.thread, *self.identity(a))] = i
            self.kinds[i] = self._kind(a, fp, lock_offs)
            if not any(rs & set(fp[1]) for rs in conj_reads):
                self.right[i] = self._dependents(a, fp, ())
            if a.step:  # an operation starts from idle: always a block's first step
                self.cont[i] = self._dependents(a, fp, conj_reads)

    @staticmethod
    def identity(a) -> tuple:
        """``(th_op, th_pc, th_proc, th_file, th_idx, th_flag)`` of a thread about to run
        split step ``a`` (what the step's program-counter guard compares)."""
        args = [getattr(a, a.TH_ARGS.get(k, k), 0) for k in ("proc", "file", "idx")]
        flag = 1 if any(getattr(a, f) for f in a.FLAGS) else 0
        return (a.code(), a.step, *args, flag)

    def _kind(self, a, fp, lock_offs) -> str:
        """Static mover class of split step ``a`` from its writes on the lock fields."""
        L, D = self.L, self.D
        written = lock_offs & set(fp[1])
        waited = set()
        for n in a.needs(D, L, a.step):
            if n.kind == "entry":
                waited.add(L.xa_lock[n.file][n.idx])
            elif n.kind == "mmap-shared":
                waited.add(L.mmap_shared[n.file][a.thread])
            elif n.kind == "mmap-excl":
                waited.add(L.mmap_excl[n.file])
            elif n.kind in ("io-excl", "io-shared"):
                waited.add(L.io_excl[n.file])
        if written and written <= waited:
            return "right"
        if written:
            return "left"
        if not a.step:
            return "non"
        return "both" if all(needs for _, needs in self._dependents(a, fp, ())[0]) else "non"

    def _dependents(self, a, fp, conj_reads):
        """``(atomic operations as (action index, lock needs), other threads' split
        steps)`` that conflict with step ``a`` (footprint ``fp``; conjunct read sets
        ``conj_reads``)."""
        ra, wa = set(fp[0]), set(fp[1])
        touched = [rs for rs in conj_reads if rs & wa]
        atomic, split = [], []
        for b, fb in zip(self.model.actions, self.footprints):
            if isinstance(b, SplitOp) and b.thread == a.thread:
                continue
            rb, wb = set(fb[0]), set(fb[1])
            if not (ra & wb or wa & rb or wa & wb or any(rs & wb for rs in touched)):
                continue
            if isinstance(b, SplitOp):
                split.append(b)
                continue
            atomic.append((self.model.index[b], locks.atomic_needs_of(self.D, self.L, b)))
        return tuple(atomic), tuple(split)

    # ------------------------------------------------------------ per state
    def next_step(self, s: bytes, t: int) -> int:
        """The action index of thread ``t``'s next step in ``s``, -1 when it is idle."""
        op = s[self.L.th_op[t]]
        if op == 0:
            return -1
        return self.at.get((t, *self.thread_fields[t](s), s[self.L.th_flag[t]]), -1)

    def continues(self, s: bytes, j: int, t: int) -> bool:
        """Step ``j`` of thread ``t`` is a continuation (a left mover in context) in ``s``,
        the state before it: every conflicting action is locked out by ``t``; enabledness
        is the caller's."""
        return self._locked_out(s, j, t, self.cont)

    def right_mover(self, s: bytes, j: int, t: int) -> bool:
        """Step ``j`` of thread ``t``, just run and giving ``s``, is an invisible right
        mover in context: it writes no property's read set (``no_deadlock`` exempt) and
        every action whose read/write sets overlap its own is locked out by ``t`` in ``s``
        (so it can be delayed past anything the others do before ``t``'s next step)."""
        return j in self.right and self._locked_out(s, j, t, self.right)

    def _locked_out(self, s, j, t, table) -> bool:
        """Every action of ``table[j]`` is locked out by ``t`` in ``s`` or dormant
        (:meth:`dormant`)."""
        k = (j, table is self.right, self.key(s))
        r = self.cache.get(k)
        if r is None:
            atomic, split = table[j]
            L, D = self.L, self.D
            if any(may_run_before(D, L, self.steps, b, s, t) for b in split):
                r = False
            else:  # the atomic ones no lock keeps out: each must be dormant
                r = tuple(
                    b
                    for b, needs in atomic
                    if not any(n.blocked_by(L, s, t) is True for n in needs)
                )
            if len(self.cache) > 1_000_000:
                self.cache.clear()
            self.cache[k] = r
        return r is not False and all(self.dormant(s, b, t) for b in r)

    def dormant(self, s: bytes, b: int, t: int) -> bool:
        """Action ``b`` cannot run before thread ``t`` moves: it is disabled in ``s`` and so
        is every action that could enable it, transitively (its *wakers*: the actions
        that write its read set), unless that action is ``t``'s own step or locked out by
        ``t``.  (If one of them ran first, a waker of it outside the set would have run
        before it.)"""
        acts, steps, L, D = self.model.actions, self.steps_of, self.L, self.D
        seen, todo = set(), [b]
        while todo:
            w = todo.pop()
            if w in seen:
                continue
            seen.add(w)
            a = acts[w]
            if isinstance(a, SplitOp):
                if a.thread == t or not may_run_before(D, L, self.steps, a, s, t):
                    continue
            elif any(n.blocked_by(L, s, t) is True for n in self.needs_of(w)):
                continue
            if steps[w](s) is not None:
                return False
            todo.extend(self.wakers(w))
        return True

    def needs_of(self, w: int) -> tuple:
        """The locks atomic action ``w`` takes (memoised)."""
        r = self._needs.get(w)
        if r is None:
            r = self._needs[w] = locks.atomic_needs_of(self.D, self.L, self.model.actions[w])
        return r

    def wakers(self, w: int) -> list:
        """The actions other than ``w`` that write ``w``'s read set (memoised)."""
        r = self._wakers.get(w)
        if r is None:
            reads = set(self.footprints[w][0])
            r = self._wakers[w] = [
                v for v, fv in enumerate(self.footprints) if v != w and reads.intersection(fv[1])
            ]
        return r

    def describe(self) -> str:
        """For the run statistics: the classification and how many steps were merged."""
        if not self.active:
            return f"lipton reduction off ({self.why}): unreduced exploration"
        c = Counter(self.kinds.values())
        return (
            f"lipton: {self.merged:,} steps run inside {self.blocks:,} atomic blocks; "
            f"split steps: {c['right']} right movers (acquire), {c['left']} left movers "
            f"(release), {c['both']} both-movers under a lock, {c['non']} non-movers; "
            f"{len(self.cont)} may continue a block"
        )


class LiptonRun(ReferenceRun):
    """The reference explorer (:class:`~.explore.ReferenceRun`) over maximal atomic
    blocks, in order of depth in operations: level ``k`` holds the states whose shortest
    path begins ``k`` operations (:func:`ops_depth`); a block that starts with a step inside
    an operation costs nothing, so it stays in its parent's level (a 0-1 breadth-first
    search: a level's zero-cost blocks are all run before its costly ones are stored).
    Arguments as :class:`~.explore.ReferenceRun` (``memo`` always on); ``reduce=False``:
    every block is one action (the unreduced search in the same order, for the tests'
    comparison).  Verdicts' traces are whole action sequences, their ``depth`` the
    length in actions; ``stats.depth`` is the last level (operations); ``stats.por``
    describes the reduction."""

    def __init__(self, model, props, depth, budget, progress, progress_every, *, reduce=True):
        super().__init__(
            model, props, depth, budget, progress, progress_every, memo=True, por=False
        )
        footprints = [action_footprint(model, a) for a in model.actions]
        self.memo = MemoSuccessors(model, footprints=footprints)
        self.tx = Transactions(model, props, footprints, self.memo.steps)
        self.reducing = reduce and self.tx.active
        self.block_ids: dict[tuple, int] = {}
        self.block_of: list[tuple] = []
        self.costly = [
            not isinstance(a, SplitOp) or a.step == 0 for a in model.actions
        ]  # the action begins an operation

    def block(self, s: bytes, i: int, ns: bytes):
        """``(actions, states)``: action ``i`` from ``s`` (giving ``ns``) and the
        continuations of its thread after it."""
        acts, states = [i], [ns]
        a = self.model.actions[i]
        if not self.reducing or not isinstance(a, SplitOp):
            return acts, states
        tx, t, steps = self.tx, a.thread, self.memo.steps
        pre = tx.right_mover(ns, i, t)  # right movers so far: the commit step is next
        while len(acts) < MAX_BLOCK:
            j = tx.next_step(ns, t)
            if j < 0 or not pre and j not in tx.cont:
                break
            nn = steps[j](ns)
            if nn is None or nn is ns or not pre and not tx.continues(ns, j, t):
                break
            pre = pre and tx.right_mover(nn, j, t)
            ns = nn
            acts.append(j)
            states.append(ns)
        if len(acts) > 1:
            tx.blocks += 1
            tx.merged += len(acts) - 1
        return acts, states

    def _store(self, sid, acts, seq) -> int:
        """Check the block's states and store its last; the new id or -1."""
        if len(acts) > 1 or seq[-1] not in self.store.ids:
            self.check_block(sid, acts, seq)
        bid = self.block_ids.setdefault(tuple(acts), len(self.block_of))
        if bid == len(self.block_of):
            self.block_of.append(tuple(acts))
        return self.store.add(seq[-1], sid, bid)

    def level(self, frontier, level) -> list:
        """Expand level ``level`` from ``frontier`` (ids): its zero-cost closure first,
        then the blocks that begin an operation; the next level's ids."""
        store, fired, costly = self.store, self.fired, self.costly
        states = store.states
        queue, later, nxt = list(frontier), [], []
        q = 0
        while q < len(queue) and self.pending:
            sid = queue[q]
            q += 1
            s = states[sid]
            for i, ns in self.memo.successors(s):
                fired[i] += 1
                if ns is s:
                    continue
                acts, seq = self.block(s, i, ns)
                for j in acts[1:]:
                    fired[j] += 1
                if costly[i]:
                    later.append((sid, acts, seq))
                    continue
                nid = self._store(sid, acts, seq)
                if nid >= 0:
                    queue.append(nid)
                if not self.pending:
                    break
            if self.stopped(len(states), level):
                return nxt
        for sid, acts, seq in later:
            if not self.pending:
                break
            nid = self._store(sid, acts, seq)
            if nid >= 0:
                nxt.append(nid)
        return nxt

    def stopped(self, n, level) -> bool:
        """Budget and progress between two expanded states (``n`` stored; the clock is
        read every 64 states)."""
        stats = self.stats
        self.ticks = getattr(self, "ticks", 0) + 1
        if self.ticks & 63 == 0 or self.progress is not None:
            now = time.perf_counter()
            stats.stopped = budget_stop(self.budget, n, now - self.t0)
            if self.progress is not None and now >= self.next_tick:
                stats.states, stats.depth, stats.seconds = n, level, now - self.t0
                self.progress(stats)
                self.next_tick = now + self.progress_every
        return stats.stopped is not None

    def check_block(self, sid, acts, seq) -> bool:
        """Check every state of a block from state ``sid``; record the violations (trace:
        the path to ``sid`` and the block's steps up to the violating state).  True when
        every pending property holds on all of them."""
        ok = True
        for k, (j, ns) in enumerate(zip(acts, seq)):
            bad = []
            for key, cache, c in self.flat[j]:
                r = cache.get(key(ns))
                if r is None:
                    r = c.fill(ns)
                if not r:
                    bad = [
                        p for p in self.pending if not all(cc.holds(ns) for cc in self.conj[p.name])
                    ]
                    break
            if not bad:
                continue
            ok = False
            trace = self.path(sid) + list(zip(acts[: k + 1], seq[: k + 1]))
            for p in bad:
                items = p.failing_items(self.L, ns)
                self.verdicts[p.name] = Verdict(
                    p.name,
                    VIOLATED,
                    len(trace) - 1,
                    trace=trace,
                    items=[i for i in items if i is not None],
                )
            self.pending = [p for p in self.pending if p.name not in self.verdicts]
            self.flat = self.flatten()
            if not self.pending:
                break
        return ok

    def path(self, sid) -> list:
        """The whole action path ``[(action index or -1, state)]`` to stored state ``sid``
        (each block expanded into its steps and states)."""
        out = []
        prev = None
        for bid, s in self.store.path(sid):
            if bid < 0:
                out.append((-1, s))
                prev = s
                continue
            steps = self.memo.steps
            for j in self.block_of[bid]:
                prev = steps[j](prev)
                out.append((j, prev))
            assert prev == s, "a block's steps did not rebuild its stored state"
        return out

    def result(self, level, complete):
        """As :meth:`ReferenceRun.result`, with the reduction's description."""
        res = super().result(level, complete)
        res.stats.por = self.tx.describe()
        return res


def explore_lipton(
    model, props, depth=None, budget=None, progress=None, progress_every=0.25, *, reduce=True
):
    """Check the Property list ``props`` on ``model`` with the transaction reduction
    (:class:`LiptonRun`; ``reduce=False``: the same search without blocks); a
    :class:`~daxcheck.checker.results.CheckResult` whose ``stats.por`` says what was reduced
    or why the run was not."""
    return LiptonRun(
        model, props, depth, budget or Budget(), progress, progress_every, reduce=reduce
    ).run()


class LiptonEngine:
    """``check --reduce lipton`` (engine ``lipton``): :func:`explore_lipton` behind the
    :class:`~daxcheck.checker.engine.Engine` interface (reads ``depth``, ``budget``,
    ``progress``/``progress_every``).  When the reduction does not apply to the design
    (:attr:`Transactions.why`) the default batched explorer runs unreduced, with the same
    states and verdicts as without the option, and ``stats.por`` says why."""

    name = "lipton"
    stats_type = Stats

    def check(self, options) -> CheckResult:
        o = options
        props = list(o.properties)
        run = LiptonRun(o.model, props, o.depth, o.budget, o.progress, o.progress_every)
        if run.tx.active:
            return run.run()
        res = explore(o.model, props, o.depth, o.budget, o.progress, o.progress_every)
        res.stats.por = run.tx.describe()
        return res

"""Locks and split operations from a user file (issue 25): lock kinds declared with
``declare_lock``, split operations declared with ``Step`` (the API the shipped race
operations use), wait queues as state, the atomic operations' locks from a hook, and the
examples of tests/user_files/ (three-thread deadlock, double zeroing, lost wakeup) through
no_deadlock, --livelock, the partial-order reduction, Z3 and replay."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from helpers import dax_here

from daxcheck import registries
from daxcheck.checker.concrete.executor import replay_concrete
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.explicit.progress import stuck_threads
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.checker.symbolic.engine import bmc
from daxcheck.properties import PROPERTIES
from daxcheck.spec import locks
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import ActionDefinitionError
from daxcheck.spec.ops.races import DaxFault, PunchHole
from daxcheck.spec.ops.split import LOCK_FIELDS, SplitOp, Step, split

FILES = Path(__file__).resolve().parent / "user_files"
DEADLOCK, ZERO, WAKEUP = (
    FILES / n for n in ("imap_deadlock.py", "double_zero.py", "lost_wakeup.py")
)


@pytest.fixture
def user(request):
    """Load one user file (as designs file, and as properties file when ``props``),
    registries restored afterwards."""

    def load(path, props=False):
        load_user_files(str(path), str(path) if props else None)

    with registries.isolated():
        yield load


def _violated(r):
    return {p for p, v in r.verdicts.items() if v.status == VIOLATED}


def test_shipped_race_ops_use_the_step_api():
    """The shipped split operations are declared with Step: their locks come from the
    declarations (a DAX fault waits for MMAPLOCK, then the entry lock; the punch's first step
    takes i_rwsem and MMAPLOCK and its last drops them)."""
    m = DaxModel(DESIGNS["fault-punch-mmaplock"])
    assert all(isinstance(st, Step) for st in DaxFault.STEP_DECLS + PunchHole.STEP_DECLS)
    punch = next(a for a in m.actions if isinstance(a, PunchHole))
    first = [n.kind for n in punch.needs(m.design, m.L, 0)]
    assert first == ["io-excl", "mmap-excl"]
    assert punch.resolve(PunchHole.STEP_DECLS[-1].drops, m.design, m.L) == punch.needs(
        m.design, m.L, 0
    )
    assert list(LOCK_FIELDS) == ["xa_lock", "mmap_excl", "mmap_shared", "io_excl", "pin_holder"]


def test_three_thread_deadlock_is_found_and_named(user):
    """The user's i_mmap_rwsem and three split operations: the inverted walk deadlocks, and
    only with three threads (a queued writer between two readers); no_deadlock's item names
    the cycle, the trace replays; the ordered walk holds in the whole space, also reduced."""
    user(DEADLOCK)
    assert {"i_mmap", "i_mmap_waiter"} <= set(locks.LOCK_KINDS)
    assert "lk_i_mmap_shared" in list(LOCK_FIELDS)
    nd = [PROPERTIES["no_deadlock"]]
    m = DaxModel(DESIGNS["imap-walk-inverted"])
    v = explore(m, nd).verdicts["no_deadlock"]
    assert v.status == VIOLATED and [str(i) for i in v.items] == ["T0 -> T2 -> T1 -> T0"]
    rep = replay_concrete(m, [m.actions[i] for i, _ in v.trace[1:]], prop="no_deadlock")
    assert rep.reproduced, rep.symptoms
    text = " ".join(rep.symptoms)
    assert "waits for i_mmap_rwsem a (excl), held by T1" in text
    assert "T1 (mapping_walk at lock_second) waits for DAX entry lock a[0], held by T0" in text
    two = DaxModel(
        DESIGNS["imap-walk-inverted"], DESIGNS["imap-walk-inverted"].bounds.replace(threads=2)
    )
    assert explore(two, nd).verdicts["no_deadlock"].status == HOLDS
    fixed = DaxModel(DESIGNS["imap-walk-ordered"])
    for por in (False, True):
        w = explore(fixed, nd, por=por).verdicts["no_deadlock"]
        assert w.status == HOLDS and w.complete
    assert explore(m, nd, por=True).verdicts["no_deadlock"].status == VIOLATED


def test_z3_finds_the_user_deadlock_at_the_same_depth(user):
    """bmc on the user's split operations and lock kinds: the deadlock at the explicit
    engine's depth, nothing on the fix to that depth."""
    user(DEADLOCK)
    nd = [PROPERTIES["no_deadlock"]]
    depth = explore(DaxModel(DESIGNS["imap-walk-inverted"]), nd).verdicts["no_deadlock"].depth
    z = bmc(DaxModel(DESIGNS["imap-walk-inverted"]), nd, depth=depth)
    assert z.verdicts["no_deadlock"].status == VIOLATED and z.verdicts["no_deadlock"].depth == depth
    z = bmc(DaxModel(DESIGNS["imap-walk-ordered"]), nd, depth=depth)
    assert z.verdicts["no_deadlock"].status == HOLDS


def test_double_zeroing_is_found_and_the_prezeroed_fix_holds(user):
    """Two write faults on one new block, both zeroing it (dax_iomap_zero as its own step):
    the user's property and read_returns_last_write fail, and the trace's last step is the
    second fault's zeroing; with blocks allocated zeroed (the xfs_bmapi_zero hook) both hold."""
    user(ZERO, props=True)
    props = [PROPERTIES["read_returns_last_write"], PROPERTIES["stores_are_not_zeroed"]]
    m = DaxModel(DESIGNS["double-zero-unlocked"])
    r = explore(m, props)
    assert _violated(r) == {"read_returns_last_write", "stores_are_not_zeroed"}
    trace = [m.actions[i] for i, _ in r.verdicts["stores_are_not_zeroed"].trace[1:]]
    assert trace[-1].describe().endswith("step=dax_iomap_zero)")
    assert len({a.thread for a in trace if isinstance(a, SplitOp)}) == 2
    rep = replay_concrete(m, trace, prop="read_returns_last_write")
    assert rep.refinement_ok and rep.reproduced
    fixed = explore(DaxModel(DESIGNS["double-zero-prezeroed"]), props)
    assert not _violated(fixed) and all(v.complete for v in fixed.verdicts.values())


def test_lost_wakeup_sleeps_forever_and_its_fixes_finish(user):
    """Wait queues as state: the PMD fault sleeping on the PMD index's key is never woken by
    the 4 KiB unlock (a thread stuck for --livelock, no cycle for no_deadlock); waiting on
    the entry's own key, or not waiting (the kernel's fix), every thread always finishes."""
    user(WAKEUP)
    m = DaxModel(DESIGNS["pmd-wait-wrong-key"])
    assert m.L.sleepers and "th_wq" in m.L.specs
    r = stuck_threads(m)
    assert r.complete and sorted(s.thread for s in r.stuck) == [0, 1]
    last = r.stuck[0].trace[-1][1]
    assert last[m.L.th_wq[r.stuck[0].thread]] != 0  # asleep
    assert explore(m, [PROPERTIES["no_deadlock"]]).verdicts["no_deadlock"].status == HOLDS
    for name in ("pmd-wait-entry-key", "pmd-wait-fall-back"):
        r = stuck_threads(DaxModel(DESIGNS[name]))
        assert r.complete and not r.stuck, name


def test_a_sleeper_waits_for_the_holder_of_its_entry(user):
    """no_deadlock sees sleepers: a thread asleep on the key of an entry another thread holds
    waits for that thread (the waits-for relation), and stops once woken."""
    user(WAKEUP)
    m = DaxModel(DESIGNS["pmd-wait-entry-key"])
    L = m.L
    s = m.init_states()[0]
    for name, t in (("pte_fault", 1), ("pmd_fault_wait", 0), ("pmd_fault_wait", 0)):
        s = next(
            n for i, n in m.successors(s) if m.actions[i].name == name and m.actions[i].thread == t
        )
    assert s[L.th_wq[0]] != 0 and L.waits_for(L, s, 0, 1) and not L.waits_for(L, s, 1, 0)
    s = next(n for i, n in m.successors(s) if m.actions[i].thread == 1)  # unlock: wakes T0
    assert s[L.th_wq[0]] == 0 and not L.waits_for(L, s, 0, 1)


def test_livelock_cli_on_the_lost_wakeup(user):
    """``check --livelock`` names the thread that sleeps forever (exit 12)."""
    code, out, err = dax_here(
        "check",
        "--quiet",
        "--no-write",
        "--livelock",
        "--designs",
        str(WAKEUP),
        "--design",
        "pmd-wait-wrong-key",
        "--design",
        "pmd-wait-fall-back",
    )
    assert code == 12, err
    assert "livelock: pmd-wait-wrong-key: thread T0 can never finish" in out
    assert "pmd-wait-fall-back: every thread can always finish" in out


def test_race_flags_on_an_atomic_design_say_so_in_one_line():
    """--livelock, --por and --threads 2 on a design without a split operation: one note each."""
    code, out, err = dax_here(
        "check",
        "--quiet",
        "--no-write",
        "--livelock",
        "--por",
        "--threads",
        "2",
        "--design",
        "iomap-hole-size",
    )
    notes = [ln for ln in out.splitlines() if ln.startswith("note:")]
    assert code == 0, err
    assert notes == [
        "note: --livelock does not apply to iomap-hole-size: no split (race) operation in scope",
        "note: --por does not apply to iomap-hole-size: no split (race) operation in scope",
        "note: --threads 2 does not apply to iomap-hole-size: no split (race) operation in "
        "scope, every operation is atomic",
    ]


def test_atomic_operations_locks_come_from_a_hook():
    """The locks an atomic operation takes in a race design are the atomic_op_locks hook's:
    giving the atomic fault MMAPLOCK shared in the unlocked fault-vs-punch design (the punch
    still takes none) does not fix it, giving both does (the r1 fix, by hooks alone)."""
    base = DESIGNS["fault-punch-unlocked"]
    props = [PROPERTIES[p] for p in sorted(base.expect_violated)]

    def mmap_for_faults(self, L, a):
        out = Design.atomic_op_locks(self, L, a)
        if a.name == "fault":
            out += (locks.Need("mmap-shared", a.file),)
        return out

    def variant(**hooks):
        cls = type("Variant", (Design,), hooks)
        return cls(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Design)})

    half = variant(atomic_op_locks=mmap_for_faults)
    assert _violated(explore(DaxModel(half), props)) == set(base.expect_violated)
    both = variant(
        atomic_op_locks=mmap_for_faults,
        xfs_ilock_mmaplock=lambda self, op: op in ("punch", "truncate"),
    )
    assert not _violated(explore(DaxModel(both), props))


def test_the_guide_quotes_the_example_file():
    """docs/extending.md's Locks and split operations section quotes its example file: every
    line of its ```py excerpts is a line of tests/user_files/imap_deadlock.py."""
    doc = (FILES.parent.parent / "docs" / "extending.md").read_text()
    section = doc[doc.index("## Locks and split operations") :]
    blocks = re.findall(r"```py\n(.*?)```", section, re.S)
    src = {line.strip() for line in DEADLOCK.read_text().splitlines()}
    assert len(blocks) >= 2
    for line in (ln.strip() for b in blocks for ln in b.splitlines()):
        assert not line or line in src, line


def test_lock_and_split_declarations_are_checked():
    """Bad declarations fail with a message naming the problem."""
    with pytest.raises(locks.LockError, match="identifier"):
        locks.declare_lock("bad name", title="x", source="fs/x.c")
    with pytest.raises(locks.LockError, match="kernel source"):
        locks.declare_lock("nosource", title="x", source="")
    with pytest.raises(locks.LockError, match="per="):
        locks.declare_lock("badper", title="x", source="fs/x.c", per=("blk",))
    with pytest.raises(locks.LockError, match="already declared"):
        locks.declare_lock("entry", title="other", source="fs/x.c")
    with pytest.raises(locks.LockError, match="unknown lock need 'nolock'"):
        locks.lock_of("nolock")
    with pytest.raises(locks.LockError, match="unknown lock need 'entry-shared'"):
        locks.lock_of("entry-shared")
    with registries.isolated(), pytest.raises(ActionDefinitionError, match="no STEPS"):

        @split
        @dataclasses.dataclass(frozen=True)
        class Empty(SplitOp):
            name = "empty_split"
            thread: int
            step: int


def test_the_gate_pins_user_race_designs(tmp_path):
    """``gate --update`` records the user's race designs (verdicts, depths, state counts and
    the deadlock's trace) in a manifest of their own; ``gate`` then replays and matches them,
    and a changed state count is a difference (exit 1)."""
    man = tmp_path / "m.json"
    args = (
        "--designs",
        str(DEADLOCK),
        "--design",
        "imap-walk-inverted",
        "--design",
        "imap-walk-ordered",
    )
    code, out, err = dax_here("gate", "--update", *args, str(man))
    assert code == 0, err
    assert (tmp_path / "imap-walk-inverted__no_deadlock.itf.json").exists()
    code, out, err = dax_here("gate", "--quiet", *args, str(man))
    assert code == 0 and "gate passed: 2 designs match" in out, out + err
    doc = json.loads(man.read_text())
    doc["designs"]["imap-walk-ordered"]["states"] += 1
    man.write_text(json.dumps(doc))
    code, out, err = dax_here("gate", "--quiet", *args, str(man))
    assert code == 1 and "imap-walk-ordered" in out, out + err

"""User state with crash semantics (issue 25): three per-file flags a user operation sets,
one per crash mode: ``kept`` (on media), ``recovered`` (journalled: back as of the last log
force) and ``lost`` (in-core: reset by a crash), and an invariant that only holds if the crash
honours them: a journalled flag never says more than the kept one.

    daxcheck check --designs tests/user_files/user_state.py --properties tests/user_files/user_state.py
"""

from dataclasses import dataclass
from typing import ClassVar

from daxcheck.properties import invariant
from daxcheck.spec.designs import DESIGNS, register_design
from daxcheck.spec.ops import Action, action
from daxcheck.spec.state import Bounds
from daxcheck.spec.user_state import state_field
from daxcheck.spec.vocab import Implies, draft, freeze

state_field("ustate_kept", ("file",), crash="kept", doc="a flag on pmem")
state_field("ustate_recovered", ("file",), crash="recovered", doc="a journalled flag")
state_field("ustate_lost", ("file",), crash="lost", doc="an in-core flag")


@action
@dataclass(frozen=True)
class SetFlags(Action):
    """Set the three flags of ``file`` (an in-core metadata change, a store to pmem)."""

    name: ClassVar[str] = "set_flags"
    file: int

    def apply(self, m, s):
        L, f = m.L, self.file
        d = draft(s)
        d[L.ustate_kept[f]] = 1
        d[L.ustate_recovered[f]] = 1
        d[L.ustate_lost[f]] = 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@invariant(each=lambda L: L.files)
def ustate_lost_implies_recovered(L, s, f):
    """An in-core flag is only set while its journalled sibling is: a crash resets both or
    brings the journalled one back (never the in-core one alone)."""
    return Implies(s[L.ustate_lost[f]] == 1, s[L.ustate_recovered[f]] == 1)


register_design(
    DESIGNS["map-sync"].variant(
        name="user-state",
        seed="user",
        summary="three user flags and a crash",
        families=("write", "set_flags", "fdatasync", "crash"),
        bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=4),
        fsync_log_force="always",
    )
)

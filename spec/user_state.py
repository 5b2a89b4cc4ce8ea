"""User state with crash semantics (issue 25): a user file declares real state, not ghosts,
saying what a power failure does to each field, as the kernel's own state has it:

* ``"kept"``: on media (a pmem-resident structure): a crash leaves it as it is;
* ``"recovered"``: journalled metadata: changes reach the log when it is forced
  (``xfs_log_force``, e.g. by fsync) and a crash brings back the last forced value
  (``xlog_recover``); the journal copy is a second field ``<name>_journal``;
* ``"lost"``: in-core only (an inode flag, a cached count): a crash resets it to 0.

The fields are declared through :func:`~daxcheck.spec.state.ghost_field` (so layouts, value
domains, symmetry and traces treat them as every declared field) and recorded in
:data:`CRASH_SEMANTICS`, which the crash transition (``xlog_recover``) and the log force read:
being transitions in the vocabulary, the explicit engine, Z3, the symmetry reduction and the
replay of a trace all honour them.
"""

from __future__ import annotations

from .state import FieldSpec, ghost_field

CRASH_MODES = ("kept", "recovered", "lost")
"""What a crash may do to a user state field."""

CRASH_SEMANTICS: dict[str, str] = {}
"""User state fields by name -> their crash mode (a registry of :mod:`daxcheck.registries`)."""


def journal_name(name: str) -> str:
    """The journal copy of the ``"recovered"`` field ``name``."""
    return f"{name}_journal"


def state_field(
    name: str, dims: tuple, crash: str, kind=None, doc: str = "", domain=None
) -> FieldSpec:
    """Declare user state field ``name`` (``dims``, ``kind``, ``doc`` and ``domain`` as for
    :func:`~daxcheck.spec.state.ghost_field`) that a crash treats as ``crash`` says (one of
    :data:`CRASH_MODES`; a ``"recovered"`` field also gets ``<name>_journal``).  Initial
    value 0.  Returns the field's :class:`~daxcheck.spec.state.FieldSpec`.  Raises ValueError
    for an unknown mode, or what ``ghost_field`` raises (a taken name, another shape)."""
    if crash not in CRASH_MODES:
        raise ValueError(
            f"state field {name!r}: crash={crash!r} is not one of {', '.join(CRASH_MODES)}"
        )
    old = CRASH_SEMANTICS.get(name)
    if old is not None and old != crash:
        raise ValueError(f"state field {name} is already declared with crash={old!r}")
    spec = ghost_field(name, dims, kind, doc or name, domain)
    if crash == "recovered":
        ghost_field(journal_name(name), dims, kind, f"the journal's copy of {name}", domain)
    CRASH_SEMANTICS[name] = crash
    return spec


def _offsets(L, name) -> tuple:
    """Every state offset of field ``name`` in layout ``L`` (none: not in this layout)."""
    return next((flat for (n, *_, flat) in L.fields if n == name), ())


def log_force_user_state(L, d) -> None:
    """The log force's part for user state: every ``"recovered"`` field's value reaches its
    journal copy."""
    for name, mode in CRASH_SEMANTICS.items():
        if mode == "recovered":
            for o, j in zip(_offsets(L, name), _offsets(L, journal_name(name))):
                d[j] = d[o]


def crash_user_state(L, d) -> None:
    """A crash's part for user state: ``"lost"`` fields reset to 0, ``"recovered"`` fields
    take their journal copy, ``"kept"`` fields stay."""
    for name, mode in CRASH_SEMANTICS.items():
        if mode == "lost":
            for o in _offsets(L, name):
                d[o] = 0
        elif mode == "recovered":
            for o, j in zip(_offsets(L, name), _offsets(L, journal_name(name))):
                d[o] = d[j]

"""Checking designs from a kernel developer's own test suite, in process.

``check_design`` explores one design (a registered name or a :class:`Design` value) against
some invariants and returns a :class:`DesignCheck` to assert on; the pytest plugin
(:mod:`daxcheck.pytest_plugin`) offers it as the ``daxcheck`` fixture, with every registry
isolated per test (:func:`daxcheck.registries.isolated`), so tests may define ``@invariant``
functions and designs, or load the same user files, any number of times::

    def test_my_design(daxcheck):
        daxcheck.load_designs("my_designs.py")
        r = daxcheck.check_design("cow-no-zero", ["no_stale_data"])
        assert r.violated == {"no_stale_data"} and r.depth_of("no_stale_data") == 3
        r.assert_expected()                # exactly the design's expect_violated
"""

from __future__ import annotations

from dataclasses import dataclass

from daxcheck.checker.explicit import Budget
from daxcheck.checker.gate import expect_differences
from daxcheck.checker.runner import (
    InputError,
    load_designs_file,
    make_model,
    pick,
    pick_properties,
    run_check,
)
from daxcheck.properties import Property, load_properties_file
from daxcheck.registries import isolated
from daxcheck.spec.designs import DESIGNS

__all__ = ["DesignCheck", "check_design", "isolated", "load_designs", "load_properties"]


@dataclass
class DesignCheck:
    """The outcome of :func:`check_design`: ``check`` (a
    :class:`~daxcheck.checker.runner.Check`: model, result, traces).  Verdict statuses are
    "holds", "violated" or "incomplete"; depths count actions."""

    check: object

    @property
    def design(self) -> str:
        return self.check.model.design.name

    @property
    def verdicts(self) -> dict:
        """``{property: Verdict}`` (status, depth, complete, items)."""
        return self.check.result.verdicts

    @property
    def violated(self) -> set:
        """Names of the properties violated."""
        return {p for p, v in self.verdicts.items() if v.status == "violated"}

    @property
    def holding(self) -> set:
        """Names of the properties that hold up to the depth bound."""
        return {p for p, v in self.verdicts.items() if v.status == "holds"}

    @property
    def states(self) -> int:
        """Distinct states explored."""
        return self.check.result.stats.states

    @property
    def traces(self) -> dict:
        """``{property: Trace}`` for each violation (shortest counterexample)."""
        return self.check.traces

    @property
    def exit_code(self) -> int:
        """What ``daxcheck check`` would exit with (0, 12 or 75)."""
        return self.check.result.exit_code()

    def depth_of(self, prop: str) -> int:
        """Shortest counterexample length (violated) or depth covered (holds)."""
        return self.verdicts[prop].depth

    def assert_expected(self, violated=None) -> None:
        """Assert that exactly ``violated`` (default: the design's ``expect_violated``,
        restricted to the properties checked) is violated and nothing is incomplete; the
        AssertionError names every difference."""
        names = list(self.verdicts)
        if violated is None:
            diffs = expect_differences([self.check], names)
            if diffs:
                raise AssertionError("; ".join(d.line() for d in diffs))
            return
        want, got = set(violated), self.violated
        if want != got:
            raise AssertionError(f"{self.design}: violated {sorted(got)}, expected {sorted(want)}")


def load_designs(path) -> list[str]:
    """Load a user's design file (once; see :mod:`daxcheck.userfile`); returns the design
    names it registered.  Raises :class:`~daxcheck.checker.runner.InputError`."""
    return load_designs_file(str(path))


def load_properties(path) -> list[str]:
    """Load a user's property file (once); returns the invariant and lemma names it
    registered.  Raises :class:`~daxcheck.properties.PropertyFileError`."""
    return load_properties_file(str(path))


def check_design(
    design, properties=None, *, engine: str = "explicit", max_states=None, time_limit=None, **bounds
) -> DesignCheck:
    """Explore ``design`` (a registered name or a Design value, registered or not) with the
    named engine, checking ``properties`` (names or Property values; default: every
    registered invariant), at the design's default bounds changed by ``bounds`` (``depth=``,
    ``files=``, ``blocks=``, ``phys=``, ``tokens=``, ``procs=``).

    Raises :class:`~daxcheck.checker.runner.InputError` for an unknown name or bounds out of
    range and :class:`~daxcheck.usercode.UserCodeError` when a user's predicate or hook raises
    (or a predicate returns a non-bool)."""
    d = pick([design], DESIGNS, "design")[0] if isinstance(design, str) else design
    if properties is None:
        props = pick_properties([])
    else:
        props = [p if isinstance(p, Property) else pick_properties([p])[0] for p in properties]
    unknown = sorted(set(bounds) - {"depth", "files", "blocks", "phys", "tokens", "procs"})
    if unknown:
        raise InputError(
            f"unknown bound {unknown[0]!r} (valid: depth, files, blocks, phys, tokens, procs)"
        )
    m = make_model(d, bounds)
    return DesignCheck(
        run_check(
            m,
            props,
            engine,
            Budget(max_states, time_limit),
            command="daxcheck.testing.check_design",
        )
    )

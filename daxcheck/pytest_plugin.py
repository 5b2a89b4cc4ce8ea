"""pytest plugin (entry point ``pytest11``): the ``daxcheck`` fixture.

A kernel developer's test suite asserts verdicts of its designs and invariants in
process::

    def test_cow_no_zero(daxcheck):
        daxcheck.load_designs("my_designs.py")
        assert daxcheck.check_design("cow-no-zero").violated == {"no_stale_data", ...}

Every registry (invariants, lemmas, designs, actions, loaded user files) is snapshotted
before each test that uses the fixture and restored after it
(:func:`daxcheck.registries.isolated`), so a test may define ``@invariant`` functions or
register designs, and load the same files, as often as it likes.  The module imports
nothing heavy until a test uses the fixture.
"""

from __future__ import annotations

import pytest

# The imports of daxcheck.testing and daxcheck.registries below stay inside the functions on
# purpose: pytest imports this plugin (entry point pytest11) at the startup of every test
# session of every project that has daxcheck installed, and those modules load the spec, the
# designs and the engines.  tests/test_imports.py allows exactly these lazy imports.


class DaxcheckFixture:
    """What the ``daxcheck`` fixture yields: :meth:`check_design` and the user-file
    loaders of :mod:`daxcheck.testing`, inside one isolated set of registries."""

    def check_design(self, design, properties=None, **kw):
        """See :func:`daxcheck.testing.check_design`."""
        from daxcheck.testing import check_design

        return check_design(design, properties, **kw)

    def load_designs(self, path):
        """See :func:`daxcheck.testing.load_designs`."""
        from daxcheck.testing import load_designs

        return load_designs(path)

    def load_properties(self, path):
        """See :func:`daxcheck.testing.load_properties`."""
        from daxcheck.testing import load_properties

        return load_properties(path)


@pytest.fixture
def daxcheck():
    """daxcheck in process, with registries restored after the test."""
    from daxcheck.registries import isolated

    with isolated():
        yield DaxcheckFixture()

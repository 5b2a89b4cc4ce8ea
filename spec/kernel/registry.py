"""The registry of modelled kernel functions: :func:`kernel_function` marks a function of a
``spec/kernel/`` module as the model of the kernel function of the same name and records
the kernel source file it models.

A kernel function's first parameter is the design ``D`` (a
:class:`~daxcheck.spec.designs.Design`), so :mod:`daxcheck.spec.designs` installs each one
as the ``Design`` method of the same name: the default body of that hook.  A kernel function
calls the next kernel step through ``D.<name>(...)``, so a design subclass overriding one
hook changes that step everywhere (both engines and the byte-level replay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

KERNEL_FUNCTIONS: dict[str, Callable] = {}
"""Every modelled kernel function by name, in registration (import) order."""


class KernelFunctionError(ValueError):
    """A kernel function was registered twice under one name, or without a source file."""


def kernel_function(source: str) -> Callable[[F], F]:
    """Decorator: register ``fn`` as the model of the kernel function ``fn.__name__``, found
    in kernel file ``source`` (e.g. ``"fs/dax.c"``).  Sets ``fn.__kernel_source__`` and
    marks it as a design hook (``__daxcheck_hook__``).  Returns ``fn`` unchanged.  Raises
    KernelFunctionError for an empty ``source`` or a name registered by another function."""
    if not isinstance(source, str) or not source:
        raise KernelFunctionError("a kernel function needs its kernel source file")

    def register(fn: F) -> F:
        old = KERNEL_FUNCTIONS.get(fn.__name__)
        if old is not None and old.__module__ != fn.__module__:
            raise KernelFunctionError(
                f"kernel function {fn.__name__} is already modelled in {old.__module__}"
            )
        fn.__kernel_source__ = source  # type: ignore[attr-defined]
        fn.__daxcheck_hook__ = True  # type: ignore[attr-defined]
        KERNEL_FUNCTIONS[fn.__name__] = fn
        return fn

    return register

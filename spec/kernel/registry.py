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

import enum
import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import TypeVar

F = TypeVar("F", bound=Callable)

KERNEL_FUNCTIONS: dict[str, Callable] = {}
"""Every modelled kernel function by name, in registration (import) order: the shipped ones
(installed as ``Design`` methods) then those a user file declares (every design reaches them
through ``Design.__getattr__``; a registry of :mod:`daxcheck.registries`, key "hooks")."""

RESERVED_NAMES: set[str] = set()
"""Names a kernel function may not take because ``Design`` already has an attribute of that
name that is not a hook (``variant``, ``settings``, ``families``...); filled by
:mod:`daxcheck.spec.designs` when it is imported."""


class Caller(enum.StrEnum):
    """The kernel path that reached a caller-aware hook, passed as its ``caller`` keyword
    argument (as the kernel's functions get an ``IOMAP_*`` flags word or their own flag
    argument).  A str enum: ``Caller.WRITE == "write"``.  :attr:`iomap_flags` gives the
    ``iomap_iter`` flags of the path.  ``None`` (the default of every ``caller`` parameter)
    means a call written before the argument existed."""

    WRITE = "write"  # write(2): dax_iomap_rw -> iomap_iter(IOMAP_WRITE)
    FAULT = "fault"  # a page fault: dax_iomap_pte_fault / dax_iomap_pmd_fault
    UNSHARE = "unshare"  # FALLOC_FL_UNSHARE_RANGE: dax_file_unshare (IOMAP_UNSHARE)
    ZERO = "zero"  # FALLOC_FL_ZERO_RANGE / dax_zero_range (IOMAP_ZERO)
    REMAP = "remap"  # FICLONE(RANGE) / FIDEDUPERANGE: xfs_reflink_remap_blocks
    SEAL = "seal"  # the seed-001 seal: the block map made final (prealloc + unshare)
    FLUSH = "flush"  # xfs_flush_unmap_range: punch, truncate, collapse/insert range

    @property
    def iomap_flags(self) -> tuple[str, ...]:
        """The IOMAP_* flags of ``iomap_iter`` on this path (empty: not an iomap path)."""
        return {
            "write": ("IOMAP_WRITE",),
            "fault": ("IOMAP_WRITE", "IOMAP_FAULT"),
            "unshare": ("IOMAP_WRITE", "IOMAP_UNSHARE"),
            "zero": ("IOMAP_ZERO",),
            "seal": ("IOMAP_WRITE",),
        }.get(self.value, ())


class KernelFunctionError(ValueError):
    """A kernel function was registered twice under one name, or without a source file."""


def kernel_function(source: str, cite: str = "") -> Callable[[F], F]:
    """Decorator: register ``fn`` as the model of the kernel function ``fn.__name__``, found
    in kernel file ``source`` (e.g. ``"fs/dax.c"``; ``cite``: optionally the commit or thread
    it follows, shown by ``daxcheck list hooks``).  Sets ``fn.__kernel_source__`` (and
    ``__kernel_cite__``) and marks it as a design hook (``__daxcheck_hook__``).  A user file
    declares its own hook the same way: ``fn`` is then the default body every design (shipped
    or user) runs for ``D.<name>(...)``, and a ``Design`` subclass overrides it like a
    shipped hook.  Returns ``fn`` unchanged.  Raises KernelFunctionError for an empty
    ``source``, a name registered by another module or a name ``Design`` uses otherwise."""
    if not isinstance(source, str) or not source:
        raise KernelFunctionError("a kernel function needs its kernel source file")
    if not isinstance(cite, str):
        raise KernelFunctionError("a kernel function's cite is a string")

    def register(fn: F) -> F:
        name = getattr(fn, "__name__", None)
        if not callable(fn) or not isinstance(name, str) or not name.isidentifier():
            raise KernelFunctionError(f"@kernel_function decorates a function, not {fn!r}")
        if name in RESERVED_NAMES or name.startswith("_"):
            raise KernelFunctionError(
                f"kernel function {name}: the name is taken by Design (not a hook) or private"
            )
        old = KERNEL_FUNCTIONS.get(name)
        if old is not None and old.__module__ != fn.__module__:
            raise KernelFunctionError(
                f"kernel function {name} is already modelled in {old.__module__} "
                f"(override it in a Design subclass instead)"
            )
        fn.__kernel_source__ = source  # type: ignore[attr-defined]
        fn.__kernel_cite__ = cite  # type: ignore[attr-defined]
        fn.__daxcheck_hook__ = True  # type: ignore[attr-defined]
        KERNEL_FUNCTIONS[fn.__name__] = fn
        return fn

    return register


class KernelHooks:
    """Base class of :class:`~daxcheck.spec.designs.Design`: a hook a user file declared with
    :func:`kernel_function` after ``Design`` was built is found here, so every design (shipped
    or user) has its default body; a subclass defining the method overrides it."""

    def __getattr__(self, name: str):
        """The default body of the user-declared hook ``name``, bound to this design.  Raises
        AttributeError for any other name."""
        fn = KERNEL_FUNCTIONS.get(name) if not name.startswith("__") else None
        if fn is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return fn.__get__(self, type(self))

    def __init_subclass__(cls, **kw):
        """A subclass overriding a caller-aware hook (its default has a ``caller`` parameter:
        :class:`Caller`) with a method that does not take ``caller`` keeps working: the
        method is wrapped to drop the argument, with a DeprecationWarning."""
        super().__init_subclass__(**kw)
        for name, fn in list(KERNEL_FUNCTIONS.items()):
            own = cls.__dict__.get(name)
            if not callable(own) or not takes_caller(fn) or takes_caller(own):
                continue
            warnings.warn(
                f"{cls.__name__}.{name}: an override without the caller argument is "
                f"deprecated (it gets caller=Caller.<path>; see daxcheck list hooks); "
                f"still honoured in this release",
                DeprecationWarning,
                stacklevel=3,
            )
            setattr(cls, name, without_caller(own))

    @classmethod
    def install_kernel_functions(cls, reserved: set[str]) -> None:
        """Install every kernel function registered so far (the shipped ones) as a method of
        ``cls`` and reserve the class's other names (``reserved``: its fields) for it, so a
        user's kernel function cannot shadow them.  Raises KernelFunctionError for a kernel
        function named like a method ``cls`` defines itself."""
        for name, fn in KERNEL_FUNCTIONS.items():
            if name in vars(cls):
                raise KernelFunctionError(f"kernel function {name} is also a method of {cls}")
            setattr(cls, name, fn)
        RESERVED_NAMES.update(n for n in dir(cls) if n not in KERNEL_FUNCTIONS)
        RESERVED_NAMES.update(reserved)


def hook_rows(namespace: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(name, kernel source)`` of every hook in ``namespace`` (a class's ``vars``) then of
    the kernel functions user files declared since (not in it): the docstring's first
    sentence, prefixed with ``[kernel file]`` unless it names it, followed by the
    ``cite`` of :func:`kernel_function` in parentheses."""
    user = [(n, fn) for n, fn in KERNEL_FUNCTIONS.items() if n not in namespace]
    out = []
    for name, v in [*namespace.items(), *user]:
        if getattr(v, "__daxcheck_hook__", False):
            doc = " ".join((v.__doc__ or "").split()).replace("``", "")
            doc = doc.split(". ")[0].rstrip(".") + "."
            src = getattr(v, "__kernel_source__", None)
            cite = getattr(v, "__kernel_cite__", "")
            doc = f"[{src}] {doc}" if src and src not in doc else doc
            out.append((name, f"{doc} ({cite})" if cite and cite not in doc else doc))
    return out


def takes_caller(fn: Callable) -> bool:
    """``fn`` accepts a ``caller`` keyword argument (named, or through ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True  # not introspectable: leave it alone
    return any(p.name == "caller" or p.kind is p.VAR_KEYWORD for p in params)


def without_caller(method: Callable) -> Callable:
    """``method`` (an override written before its hook took ``caller``) as a method that
    accepts and drops the ``caller`` keyword argument."""

    @functools.wraps(method)
    def call(self, *args, caller=None, **kw):
        return method(self, *args, **kw)

    return call

"""The decision sites of the spec and properties, found by reading their source.

A *decision site* is one call of a vocabulary function that decides on a condition —
:func:`~daxcheck.spec.vocab.If`, :func:`~daxcheck.spec.vocab.when`,
:func:`~daxcheck.spec.vocab.require` (one condition each) and
:func:`~daxcheck.spec.vocab.And`, :func:`~daxcheck.spec.vocab.Or` (one decision per operand)
— as TLC counts coverage per expression.  Sites are found with :mod:`ast`, so a site that no
exploration ever reaches is still listed (the point of a coverage report); the recorder
(:mod:`.recorder`) matches a call at run time to its site by the call's source position.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

KINDS = ("If", "when", "require", "And", "Or")
"""The vocabulary calls that are decision sites."""

CONDITION_ARG = {"If": 0, "when": 1, "require": 0}
"""Which positional argument of a one-condition site is its condition."""


@dataclass(frozen=True, order=True)
class Site:
    """One decision: ``path`` (source file, as given to :func:`scan`), ``line``/``col`` of
    the call (1-based line, 0-based column: the call's start, as :mod:`ast` and
    ``co_positions`` give it), ``kind`` (one of :data:`KINDS`), ``operand`` (the operand's
    index for And/Or; 0 for a one-condition site; -1 for ``And(*xs)``, whose operands are
    not known statically and count as one decision), ``function`` (the qualified name of
    the enclosing def: the kernel function or operation it belongs to), ``text`` (the
    condition's source, shortened)."""

    path: str
    line: int
    col: int
    kind: str
    operand: int
    function: str
    text: str

    @property
    def key(self) -> tuple:
        """``(path, line, col, operand)``: what the recorder reports for this decision."""
        return (self.path, self.line, self.col, self.operand)

    def where(self) -> str:
        """``file:line`` for people."""
        return f"{self.path}:{self.line}"


def _short(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str):
        self.path = path
        self.stack: list[str] = []
        self.sites: list[Site] = []

    def _scoped(self, node):
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Call(self, node: ast.Call):
        name = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else node.func.attr
            if isinstance(node.func, ast.Attribute)
            else None
        )
        if name in KINDS:
            fn = ".".join(self.stack) or "<module>"
            at = (self.path, node.lineno, node.col_offset)
            if name in CONDITION_ARG:
                i = CONDITION_ARG[name]
                if len(node.args) > i:
                    self.sites.append(Site(*at, name, 0, fn, _short(node.args[i])))
            elif any(isinstance(a, ast.Starred) for a in node.args):
                self.sites.append(Site(*at, name, -1, fn, _short(node)))
            else:
                for k, a in enumerate(node.args):
                    self.sites.append(Site(*at, name, k, fn, _short(a)))
        self.generic_visit(node)


def scan_file(path: str | Path, shown: str | None = None) -> list[Site]:
    """Every decision site in the Python file ``path`` (named ``shown`` in the sites;
    default ``str(path)``), in source order.  Raises OSError or SyntaxError for a file
    that cannot be read or parsed."""
    source = Path(path).read_text(encoding="utf-8")
    finder = _Finder(shown or str(path))
    finder.visit(ast.parse(source, filename=str(path)))
    return sorted(finder.sites)


def scan(roots: dict[str, Path]) -> list[Site]:
    """The decision sites of every ``*.py`` file under each root: ``roots`` maps a shown
    prefix (``"spec"``) to a folder; files are named ``prefix/relative/path.py``."""
    sites: list[Site] = []
    for prefix, root in roots.items():
        for f in sorted(Path(root).rglob("*.py")):
            sites.extend(scan_file(f, f"{prefix}/{f.relative_to(root).as_posix()}"))
    return sites


def shortcut_guards(
    path: str | Path, shown: str | None = None
) -> dict[tuple, tuple[int, str, bool]]:
    """The decisions of ``path`` behind a Python-level shortcut: a site whose whole
    condition is a name ``X`` or ``Not(X)`` (an ``If``/``when``/``require`` condition or
    one ``And``/``Or`` operand) inside the body of ``if X is not False:``.  Under concrete
    evaluation (a bool), that ``if`` enters only with ``X`` true, so the call never sees
    ``X`` false: that case is decided by the ``if``, and only a symbolic ``X`` (Z3, the
    array backend) reaches the call both ways.  Returns site key (``Site.key`` with
    ``shown``) -> (line of the ``if``, ``X``, the outcome the call never sees: False for
    ``X``, True for ``Not(X)``).  Raises OSError or SyntaxError for a file that cannot be
    read or parsed."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    name = shown or str(path)
    out: dict[tuple, tuple[int, str]] = {}

    def guarded(node: ast.If) -> str | None:
        t = node.test
        if (
            isinstance(t, ast.Compare)
            and len(t.ops) == 1
            and isinstance(t.ops[0], ast.IsNot)
            and isinstance(t.left, ast.Name)
            and isinstance(t.comparators[0], ast.Constant)
            and t.comparators[0].value is False
        ):
            return t.left.id
        return None

    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        x = guarded(node)
        if x is None:
            continue
        for inner in (n for stmt in node.body for n in ast.walk(stmt)):
            if not isinstance(inner, ast.Call):
                continue
            fn = inner.func.id if isinstance(inner.func, ast.Name) else None
            if fn in CONDITION_ARG:
                args = [(0, inner.args[CONDITION_ARG[fn]])] if len(inner.args) > 1 else []
            elif fn in ("And", "Or") and not any(isinstance(a, ast.Starred) for a in inner.args):
                args = list(enumerate(inner.args))
            else:
                continue
            for k, a in args:
                if isinstance(a, ast.Name) and a.id == x:
                    out[(name, inner.lineno, inner.col_offset, k)] = (node.lineno, x, False)
                elif (
                    isinstance(a, ast.Call)
                    and isinstance(a.func, ast.Name)
                    and a.func.id == "Not"
                    and len(a.args) == 1
                    and isinstance(a.args[0], ast.Name)
                    and a.args[0].id == x
                ):
                    out[(name, inner.lineno, inner.col_offset, k)] = (node.lineno, x, True)
    return out

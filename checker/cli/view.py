"""``daxcheck view FILE --html OUT``: a counterexample as one self-contained HTML page."""

from __future__ import annotations

from ..results import EXIT_OK, InputError
from ..view import write_view
from .common import esc


def run(args, console) -> int:
    """Write the HTML page of trace ``args.file`` to ``args.html`` (refusing a file that is
    not a daxcheck page unless ``--force``); returns 0.  Raises InputError on an OS error,
    TraceError on a bad or edited trace."""
    try:
        n = write_view(args.file, args.html, force=args.force)
    except (FileExistsError, OSError) as e:
        raise InputError(str(e)) from None
    console.print(f"[dim]written: {esc(args.html)} ({n} steps)[/dim]", soft_wrap=True)
    return EXIT_OK

"""``python -m daxcheck``: the command line."""
from daxcheck.checker.cli import main

raise SystemExit(main())

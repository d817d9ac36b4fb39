"""`python -m omega …`: the command line (see `omega.cli`)."""

from omega.cli import main

raise SystemExit(main())

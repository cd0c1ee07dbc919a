"""`python -m issuer` is the `issuer` command."""

from issuer.cli import main

raise SystemExit(main())

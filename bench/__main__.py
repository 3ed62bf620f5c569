"""Entry point: `python -m bench [--quick] [--no-postgres] [--out DIR]` runs every measure."""

from bench.run import main

raise SystemExit(main())

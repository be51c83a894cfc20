"""``python -m hedging_pipeline`` runs the CLI."""

from hedging_pipeline.cli import main

raise SystemExit(main())

"""The Dagster layer (the only package, with definitions.py and cli.py, that imports dagster)."""

import warnings

import dagster as dg

# single_run backfill policies and pools are marked beta in 1.13; we rely on them deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

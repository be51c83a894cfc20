"""Executor selection by configuration (filled in by the reliability owner)."""

import dagster as dg

from hedging_pipeline.settings import Settings


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of every job: multiprocess by default."""
    return dg.multiprocess_executor

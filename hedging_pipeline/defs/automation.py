"""Schedules, sensors and declarative automation (filled in by the operations owner)."""

import dagster as dg

from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.stages import Stage
from hedging_pipeline.settings import Settings


def build_automation_defs(
    parts: PartitionSet, settings: Settings, stages: list[Stage]
) -> dg.Definitions:
    """Schedules, sensors and jobs that keep the warehouse fresh."""
    return dg.Definitions()

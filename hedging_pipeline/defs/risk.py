"""Dagster assets of the risk area (filled in by its owner; see hedging_pipeline/defs/READY)."""

from __future__ import annotations

import dagster as dg

from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.settings import Settings


def build_risk_defs(parts: PartitionSet, settings: Settings) -> dg.Definitions:
    """Assets, checks and jobs of this area."""
    return dg.Definitions()

"""hedging_pipeline: nightly hedges for concentrated stock positions, as a Dagster code location."""

"""Data domain modules (no Dagster imports)."""

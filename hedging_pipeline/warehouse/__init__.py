"""Warehouse domain modules (no Dagster imports)."""

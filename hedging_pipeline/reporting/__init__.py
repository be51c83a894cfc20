"""Reporting domain modules (no Dagster imports)."""

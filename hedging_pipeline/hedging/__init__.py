"""Hedge construction: problem, certified optimiser, candidates per method, CLI service."""

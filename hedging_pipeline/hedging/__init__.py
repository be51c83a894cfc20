"""Hedge construction: problem, certified optimiser, candidates per method (pure: no IO)."""

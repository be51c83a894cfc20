"""The production hedging modules stay light and pure: no cvxpy, no IO layers, no Dagster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = (
    "hedging_pipeline.hedging.solve",
    "hedging_pipeline.hedging.methods",
    "hedging_pipeline.hedging.candidates",
    "hedging_pipeline.hedging.quality",
)
FORBIDDEN = (
    "cvxpy",
    "dagster",
    "hedging_pipeline.warehouse",
    "hedging_pipeline.settings",
    "hedging_pipeline.reporting",
    "hedging_pipeline.nlp",
)


def _loaded(stages: tuple[tuple[str, ...], ...]) -> list[set[str]]:
    """Modules in ``sys.modules`` of one fresh interpreter after importing each stage in turn."""
    code = (
        "import importlib, json, sys\n"
        f"for stage in {[list(s) for s in stages]!r}:\n"
        "    for m in stage: importlib.import_module(m)\n"
        "    print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO
    )
    return [set(json.loads(line)) for line in out.stdout.splitlines()]


def test_production_solver_imports_no_cvxpy_nor_io_layers():
    production, with_reference = _loaded((PRODUCTION, ("hedging_pipeline.hedging.reference",)))
    found = sorted(m for m in production if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert found == []
    assert "hedging_pipeline.hedging.solve" in production
    # the check is not vacuous: the references do bring cvxpy in
    assert "cvxpy" in with_reference

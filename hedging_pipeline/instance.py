"""The project's Dagster instance directory under ``HEDGING_HOME`` (pure file handling, no dagster import).

The first use copies the packaged ``dagster.yaml`` (SQLite storage, run queue, pools ``warehouse`` and ``gpu``
limited to 1); an existing file is never overwritten, so switching to Postgres is an edit of that file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hedging_pipeline.settings import Settings

PACKAGED_INSTANCE_YAML = Path(__file__).parent / "config" / "dagster.yaml"


def ensure_instance_dir(settings: Settings, *, export: bool = True) -> Path:
    """Create ``HEDGING_HOME/dagster`` with its ``dagster.yaml``; optionally export ``DAGSTER_HOME``.

    Returns
    -------
    Path
        The instance directory.
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(PACKAGED_INSTANCE_YAML, target)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    if export:
        os.environ["DAGSTER_HOME"] = str(home)
    return home

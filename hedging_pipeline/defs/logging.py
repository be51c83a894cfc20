"""A concise console logger for CLI runs: step starts/ends, failures, and the assets' own progress messages.

Dagster's default console logger prints every engine event at DEBUG; the CLI uses this one instead so a long
run reads as a progress log.
"""

import logging
import sys
import time

import dagster as dg
from dagster._core.log_manager import get_log_record_metadata, has_log_record_metadata

SHOWN_EVENTS = {"STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


class _ProgressFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._started: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not has_log_record_metadata(record):
            return record.levelno >= logging.WARNING
        meta = get_log_record_metadata(record)
        step = meta.get("step_key") or "run"
        event = meta.get("dagster_event")
        if event is None:  # a message from our own code (context.log)
            record.msg, record.args = f"    {step}: {meta['orig_message']}", ()
            return record.levelno >= logging.INFO
        kind = event.event_type_value
        if kind not in SHOWN_EVENTS:
            return False
        if kind == "STEP_START":
            self._started[step] = time.monotonic()
            record.msg = f"    {step}: started"
        elif kind == "STEP_SUCCESS":
            took = time.monotonic() - self._started.get(step, time.monotonic())
            record.msg = f"    {step}: done ({took:.1f} s)"
        elif kind == "STEP_FAILURE":
            record.msg = f"    {step}: FAILED"
        else:
            evaluation = event.event_specific_data
            if getattr(evaluation, "passed", True):
                return False
            name = evaluation.asset_check_key.name
            record.msg = f"    {step}: check {name} did not pass"
        record.args = ()
        return True


@dg.logger(description="Concise progress for hedging-pipeline run")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """Logger printing step progress and the assets' own messages to stderr."""
    logger = logging.getLogger("hedging_pipeline.progress")
    logger.setLevel(logging.DEBUG)  # Dagster logs step events at DEBUG; the filter picks what shows
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_ProgressFilter())
        logger.addHandler(handler)
    return logger


def progress_logger_config() -> dict:
    """Run config selecting :func:`progress_logger` (and silencing the default console logger)."""
    return {"loggers": {"progress": {"config": {}}}}

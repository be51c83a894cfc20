"""Operational alerts and freshness rules (pure: no Dagster).

An :class:`Alert` goes to a sink: a log file by default (``HEDGING_HOME/alerts.log`` or ``HEDGING_ALERT_LOG``),
and also a webhook when ``HEDGING_ALERT_WEBHOOK_URL`` is set (JSON POST, e.g. a Slack or Teams incoming webhook).
Sinks are pluggable: anything with ``send(alert)``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd

from hedging_pipeline.data.calendar import MONTH_KEY_FORMAT, last_complete_month
from hedging_pipeline.settings import OperationsSettings, Settings

WEBHOOK_TIMEOUT_S = 10.0
ALERT_LOG_NAME = "alerts.log"


@dataclass(frozen=True)
class Alert:
    """One alert: what failed, where, when, and the first error line."""

    title: str
    job: str
    run_id: str
    message: str
    at: str

    def to_line(self) -> str:
        """One log line (tab-separated, message flattened)."""
        flat = " ".join(self.message.split())
        return f"{self.at}\t{self.title}\t{self.job}\t{self.run_id}\t{flat}"


class AlertSink(Protocol):
    """Where alerts go."""

    def send(self, alert: Alert) -> None:
        """Deliver one alert."""


@dataclass(frozen=True)
class LogFileSink:
    """Appends one line per alert to a file (created with its folder)."""

    path: Path

    def send(self, alert: Alert) -> None:
        """Append the alert's line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(alert.to_line() + "\n")


def _post_json(url: str, payload: dict) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S):  # noqa: S310 (configured URL)
        pass


@dataclass(frozen=True)
class WebhookSink:
    """POSTs the alert as JSON (``text`` for chat webhooks plus every field)."""

    url: str
    post: Callable[[str, dict], None] = _post_json

    def send(self, alert: Alert) -> None:
        """POST the alert."""
        self.post(self.url, {"text": f"{alert.title}: {alert.message}", **asdict(alert)})


@dataclass(frozen=True)
class FanOutSink:
    """Sends to every sink; a failing sink does not stop the others (the first error is re-raised after)."""

    sinks: Sequence[AlertSink]

    def send(self, alert: Alert) -> None:
        """Send to each sink in turn."""
        errors = []
        for sink in self.sinks:
            try:
                sink.send(alert)
            except OSError as exc:  # network or disk: keep the other sinks going
                errors.append(exc)
        if errors:
            raise errors[0]


def build_sink(settings: Settings, ops: OperationsSettings) -> AlertSink:
    """The log file (always) plus the webhook when configured."""
    sinks: list[AlertSink] = [LogFileSink(ops.alert_log or settings.home / ALERT_LOG_NAME)]
    if ops.alert_webhook_url:
        sinks.append(WebhookSink(ops.alert_webhook_url))
    return FanOutSink(sinks)


# -- freshness ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Freshness:
    """Verdict of one freshness rule."""

    passed: bool
    description: str


def expected_month(data_end: pd.Timestamp, *, closed: bool) -> str:
    """The month an output must hold once prices through ``data_end`` arrived (last closed, or current)."""
    month = last_complete_month(data_end) if closed else pd.Timestamp(data_end).to_period("M")
    return month.strftime(MONTH_KEY_FORMAT)


def freshness(
    month: str,
    prices_loaded_at: datetime,
    output_updated_at: datetime | None,
    now: datetime,
    lag: timedelta,
    *,
    presence_only: bool = False,
) -> Freshness:
    """Whether the output's ``month`` was (re)computed after the prices it reads arrived, within ``lag``.

    Passes when the output's partition was materialised after the prices were loaded (or at all, with
    ``presence_only``: a closed month's hedges need no refresh when a later day arrives), or while the lag since
    the prices arrived has not run out yet.
    """
    if presence_only and output_updated_at is not None:
        return Freshness(True, f"{month} present (updated {output_updated_at:%Y-%m-%d %H:%M})")
    if output_updated_at is not None and output_updated_at >= prices_loaded_at:
        return Freshness(
            True, f"{month} updated {output_updated_at:%Y-%m-%d %H:%M} after new prices"
        )
    waited = now - prices_loaded_at
    hours = waited.total_seconds() / 3600
    if waited <= lag:
        return Freshness(True, f"{month} due: prices arrived {hours:.1f} h ago (lag allowed {lag})")
    state = "missing" if output_updated_at is None else "older than the prices"
    return Freshness(
        False, f"{month} {state} {hours:.1f} h after new prices arrived (lag allowed {lag})"
    )

"""Helpers for the UI tests: start ``hedging-pipeline ui`` in its own process group, query GraphQL, launch Chromium.

The server runs in a new session (process group) with SIGINT restored to its default disposition, so that one
SIGINT to the group stops the CLI, ``dagster dev``, the webserver, the daemon and the code servers together
(a background process started from a non-interactive shell would otherwise ignore SIGINT; see
``../shared/DAGSTER-NOTES.md``). Chromium is Debian's ``/usr/bin/chromium`` (``scripts/test-deps/chromium.sh``),
driven by Playwright through ``executable_path``.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("HEDGING_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20
POLL_S = 0.5
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ASSET_KEYS_QUERY = "{ assetNodes { assetKey { path } } }"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 10.0) -> dict:
    """POST a GraphQL query to the webserver and return ``data`` (raises on transport or GraphQL errors)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("hedging-pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hedging_pipeline.cli"]


class UiServer:
    """``hedging-pipeline ui --port <port>`` for one HEDGING_HOME, stopped with SIGINT to its process group."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the UI."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> "UiServer":
        """Start the server (returns at once; :meth:`wait_ready` waits for GraphQL)."""
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*_cli(), "ui", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_restore_sigint,  # noqa: PLW1509 - the child must obey SIGINT
        )
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> list[str]:
        """Wait until GraphQL lists the assets; returns their keys (``a/b`` joined)."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hedging-pipeline ui exited early:\n{self.log_tail()}")
            try:
                data = graphql(self.port, ASSET_KEYS_QUERY, timeout=5)
                keys = ["/".join(n["assetKey"]["path"]) for n in data["assetNodes"]]
                if keys:
                    return keys
            except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError) as exc:
                last_error = exc
            time.sleep(POLL_S)
        raise AssertionError(
            f"UI not ready after {timeout:.0f} s ({last_error}):\n{self.log_tail()}"
        )

    def stop(self) -> int | None:
        """SIGINT to the whole process group; SIGKILL what is left after a grace period."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        finally:
            try:  # children (daemon, code servers) of a clean exit are gone too; make sure
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def require_chromium() -> Path:
    """Debian's Chromium, or a loud skip naming the set-up script."""
    if not CHROMIUM.exists():
        message = (
            f"CHROMIUM MISSING: {CHROMIUM} not found; run scripts/test-deps/chromium.sh "
            "(scripts/test.sh does) - the browser test is SKIPPED"
        )
        warnings.warn(message, stacklevel=1)
        print(f"\n*** {message} ***")
        pytest.skip(message)
    return CHROMIUM


def ui_env(home: Path, raw_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a UI server on a private home.

    Automation is declared STOPPED (no background runs compete with the test) and runs execute their steps in
    the run worker (``HEDGING_EXECUTOR=in_process``: one process start less per UI-launched run).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGING_", "DAGSTER_"))}
    env.update(
        HEDGING_HOME=str(home),
        HEDGING_RAW_DIR=str(raw_dir),
        HEDGING_EMBEDDING_MODEL="hashing",
        HEDGING_DEVICE="cpu",
        HEDGING_BACKTEST_MONTHS="6",
        HEDGING_AUTOMATION="off",
        HEDGING_EXECUTOR="in_process",
        DAGSTER_TELEMETRY_DISABLED="1",
    )
    env.update(extra)
    return env


def dismiss_welcome(page) -> None:
    """Close the "Join the Dagster community" dialog a fresh browser profile shows (if it shows)."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=5_000)
    except Exception:  # noqa: BLE001 - the community dialog only shows on a fresh browser profile
        pass

"""Session-wide things built once when the suite runs in several processes (``pytest -n``, pytest-xdist).

Every xdist worker is its own pytest session with its own temporary folder, so a session fixture would be built
once per worker: the demo drop folder, the panels warehouse and the full CLI runs would be made two or more times
over on a 2-core CI machine. What is built here lives in the folder the workers share (the parent of each worker's
temporary folder) and is built by whichever worker asks first, under a file lock; the others wait and reuse it.
Without xdist the shared folder is the session's own temporary folder and nothing waits.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock


def xdist_worker() -> str | None:
    """This process's xdist worker id (``gw0``, ...), or ``None`` when pytest runs in one process."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def shared_root(config: pytest.Config) -> Path:
    """The temporary folder every process of this test session sees (xdist workers included)."""
    base = config._tmp_path_factory.getbasetemp()  # what the tmp_path_factory fixture returns
    return base.parent if xdist_worker() else base


def build_once(config: pytest.Config, name: str, build: Callable[[Path], None]) -> Path:
    """``<shared root>/<name>``, made by ``build(path)`` by the first process to ask (``path`` does not exist yet).

    The build goes to a temporary name and is renamed when complete, so a worker never sees half of it; a build
    that raises leaves nothing behind, and the next caller tries again (and fails the same way, with its own
    traceback).
    """
    return build_once_in(shared_root(config), name, build)


def build_once_in(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """:func:`build_once` in the folder ``root``."""
    target = root / name
    with FileLock(str(root / f".{name}.lock")):
        if not target.exists():
            building = root / f".{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            try:
                build(building)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
    return target


class Claim:
    """Which process of the session computes a shared result, and where the result is published.

    The first process to call :func:`claim` owns the work (``owner`` true) and calls :meth:`publish` once with
    the result or the failure's message; the others call :meth:`wait`, which returns the unpickled result or
    fails with the owner's message.
    """

    def __init__(self, folder: Path, owner: bool) -> None:
        self.folder = folder
        self.owner = owner
        self._result = folder / "result.pickle"

    def publish(self, value: object = None, *, error: str | None = None) -> None:
        """Write the outcome for the waiting processes (atomically: a reader never sees half of it)."""
        partial = self.folder / "result.pickle.partial"
        partial.write_bytes(pickle.dumps((error, value)))
        partial.replace(self._result)

    def wait(self, timeout: float, what: str) -> object:
        """The owner's published result (``pytest.fail`` with its message when the owner failed)."""
        deadline = time.monotonic() + timeout
        while not self._result.exists():
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what}: the test process that computes it ({self.folder}) published nothing in "
                    f"{timeout:.0f} s (did that worker crash?)"
                )
            time.sleep(0.5)
        error, value = pickle.loads(self._result.read_bytes())
        if error is not None:
            pytest.fail(f"{what} (computed by another test process): {error}", pytrace=False)
        return value


def claim(config: pytest.Config, name: str) -> Claim:
    """Claim ``name`` for this process, or learn that another process of the session has it."""
    return claim_in(shared_root(config), name)


def claim_in(root: Path, name: str) -> Claim:
    """:func:`claim` in the folder ``root``."""
    folder = root / name
    with FileLock(str(root / f".{name}.lock")):
        owner = not folder.exists()
        folder.mkdir(exist_ok=True)
    return Claim(folder, owner)

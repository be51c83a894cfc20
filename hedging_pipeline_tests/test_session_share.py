"""The test suite's cross-process sharing (``session_share``): built once, results handed over, failures too."""

import multiprocessing
import time
from pathlib import Path

import pytest

from hedging_pipeline_tests.session_share import build_once_in, claim_in


def _build_slowly(folder: Path, log: Path) -> None:
    with log.open("a") as handle:
        handle.write("built\n")
    folder.mkdir()
    time.sleep(0.3)  # long enough for the other processes to arrive while it builds
    (folder / "data.txt").write_text("complete")


def _race(root: Path, log: Path, out: Path) -> None:
    folder = build_once_in(root, "thing", lambda f: _build_slowly(f, log))
    out.write_text((folder / "data.txt").read_text())


def test_four_processes_build_once_and_all_see_the_complete_result(tmp_path):
    log = tmp_path / "builds.log"
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(target=_race, args=(tmp_path, log, tmp_path / f"out{i}")) for i in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert log.read_text() == "built\n"
    assert [(tmp_path / f"out{i}").read_text() for i in range(4)] == ["complete"] * 4
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "builds.log",
        "out0",
        "out1",
        "out2",
        "out3",
        "thing",
    ]


def test_a_failed_build_leaves_nothing_and_the_next_caller_builds(tmp_path):
    def fail(folder: Path) -> None:
        folder.mkdir()
        (folder / "half").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        build_once_in(tmp_path, "thing", fail)
    assert not (tmp_path / "thing").exists() and not (tmp_path / ".thing.building").exists()
    folder = build_once_in(tmp_path, "thing", lambda f: f.mkdir())
    assert folder.is_dir()


def test_the_first_claim_owns_and_the_others_get_its_result_or_its_error(tmp_path):
    owner, other = claim_in(tmp_path, "runs"), claim_in(tmp_path, "runs")
    assert owner.owner and not other.owner and owner.folder == other.folder
    owner.publish({"first": 0})
    assert other.wait(5, "runs") == {"first": 0}
    failed_owner, waiter = claim_in(tmp_path, "other"), claim_in(tmp_path, "other")
    failed_owner.publish(error="RuntimeError: no CLI")
    with pytest.raises(
        pytest.fail.Exception,
        match="runs \\(computed by another test process\\): RuntimeError: no CLI",
    ):
        waiter.wait(5, "runs")
    with pytest.raises(pytest.fail.Exception, match="published nothing in 1 s"):
        claim_in(tmp_path, "never").wait(1, "never")

"""`liminal run` stops when told: SIGTERM and SIGINT end the run and its tasks' process groups,
SIGKILL of `liminal run` leaves no task process behind, and one project runs once at a time."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from local_helpers import (
    liminal_run,
    processes_matching,
    start_run,
    task,
    wait_for_line,
    wait_until_gone,
    write_project,
)


def _marker() -> str:
    # a sleep no other process on the machine runs: its duration is unique to this test
    return f"sleep 7{time.time_ns() % 10**7:07d}"


def _long_project(folder: Path, marker: str) -> Path:
    """A task that starts a background child, says so, then waits in the foreground."""
    return write_project(
        folder,
        task("wait", f'"({marker} &) ; echo task-started ; {marker}"')
        + task("after", "echo after-ran"),
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_and_its_task_group(tmp_path: Path, signum: int) -> None:
    marker = _marker()
    run = start_run(_long_project(tmp_path / "p", marker))
    try:
        wait_for_line(run, "task-started")
        assert processes_matching(marker)
        stopped_at = time.monotonic()
        run.send_signal(signum)
        output, _ = run.communicate(timeout=120)
    finally:
        run.kill()
        run.wait()
    took = time.monotonic() - stopped_at
    assert run.returncode == 128 + signum, output
    assert took < 60, took  # not the task's timeout of 10 minutes
    assert f"stopped by {signal.Signals(signum).name}" in output
    assert "after-ran" not in output  # no task starts once the run is stopped
    assert "Traceback" not in output
    assert wait_until_gone(marker) == []


def test_sigkill_of_liminal_run_leaves_no_task_process(tmp_path: Path) -> None:
    marker = _marker()
    project = _long_project(tmp_path / "p", marker)
    run = start_run(project)
    try:
        wait_for_line(run, "task-started")
        assert len(processes_matching(marker)) >= 2  # the background child and the foreground
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        run.kill()
        run.wait()
    assert wait_until_gone(marker) == []
    # The dead run's lock went with it: the next run of the project starts and succeeds.
    write_project(project, task("quick", "echo quick-ran"))
    done = liminal_run(project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quick-ran" in done.stdout


def test_a_second_run_of_a_project_is_refused_with_one_line(tmp_path: Path) -> None:
    marker = _marker()
    project = _long_project(tmp_path / "p", marker)
    first = start_run(project)
    try:
        wait_for_line(first, "task-started")
        second = liminal_run(project)
        assert second.returncode == 2
        (line,) = second.stderr.strip().splitlines()
        assert "another `liminal run` of this project is running" in line
        assert f"pid {first.pid}" in line
        assert "Traceback" not in second.stdout + second.stderr
        assert processes_matching(marker)  # the first run's task was not disturbed
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 128 + signal.SIGTERM
    assert wait_until_gone(marker) == []


def test_a_task_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    marker = _marker()
    project = write_project(
        tmp_path / "p",
        task("stubborn", f"\"trap '' TERM; echo task-started; {marker}; {marker}\""),
    )
    run = start_run(project)
    try:
        wait_for_line(run, "task-started")
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=120)
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 128 + signal.SIGTERM, output
    assert wait_until_gone(marker) == []


def test_the_watchdog_stands_down_when_a_task_ends_normally(tmp_path: Path) -> None:
    """A finished task's watchdog exits without killing anything (its group id may be reused)."""
    project = write_project(tmp_path / "p", task("quick", "echo quick-ran"))
    done = liminal_run(project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert wait_until_gone("liminal-task-watchdog", 10) == []

"""Helpers of the `liminal run` tests: throw-away projects and `liminal run` as a user starts it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIMINAL = REPO / ".venv" / "bin" / "liminal"
STARTUP_SECONDS = 180  # Airflow's import and database set-up, on a busy shared machine


def write_project(folder: Path, tasks: str, extra: str = "") -> Path:
    """A project with one pipeline `p` of the given tasks (YAML, indented by 6) in image `t/img`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "liminal.yml").write_text(
        "name: local_tests\n"
        "images:\n"
        "  - image: t/img\n"
        "    type: python\n"
        "    source: .\n"
        f"{extra}"
        "pipelines:\n"
        "  - pipeline: p\n"
        "    start_date: 2024-01-01\n"
        "    timeout_minutes: 10\n"
        "    tasks:\n" + tasks
    )
    return folder


def task(name: str, cmd: str, extra: str = "") -> str:
    return (
        f"      - task: {name}\n"
        "        type: python\n"
        "        image: t/img\n"
        f"        cmd: {cmd}\n"
        f"{extra}"
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(extra)
    return env


def liminal_run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIMINAL), "run", str(project), *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def start_run(project: Path, *args: str) -> subprocess.Popen[str]:
    """`liminal run` in the background, its output readable line by line."""
    return subprocess.Popen(
        [str(LIMINAL), "run", str(project), *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    """Read the process's output until a line holds `text`; returns the lines read."""
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the run ended before {text!r}:\n{''.join(lines)}")
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} in {STARTUP_SECONDS}s:\n{''.join(lines)}")


def processes_matching(marker: str) -> list[str]:
    """Command lines of the live processes holding `marker` (zombies are not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if marker in command and state != "Z":
            found.append(command)
    return found


def wait_until_gone(marker: str, seconds: float = 20) -> list[str]:
    """The processes still holding `marker` after up to `seconds` ([] once all are gone)."""
    deadline = time.monotonic() + seconds
    while (left := processes_matching(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left

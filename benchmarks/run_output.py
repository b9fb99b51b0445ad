"""How fast `liminal run` passes a chatty task's output through: lines per second.

A throw-away project holds one pipeline whose single task prints N short lines and times itself:
a process writing to a pipe waits whenever the reader (`liminal run`) falls behind, so the task's
own time to print everything is the time `liminal run` takes to pass it through, free of
Airflow's start-up (tens of seconds on a busy machine):

    lines/s = N / (the task's seconds from its first line to its last, flushed)

The terminal side is a pipe read to the end, as a CI log would be. Compare two checkouts by
pointing `--liminal` at each one's `.venv/bin/liminal`:

    .venv/bin/python benchmarks/run_output.py --lines 1000000
    .venv/bin/python benchmarks/run_output.py --lines 50000 --liminal /path/to/old/.venv/bin/liminal
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROJECT = """\
name: chatty
images:
  - image: chatty/app
    type: python
    source: .
pipelines:
  - pipeline: chatty
    start_date: 2024-01-01
    timeout_minutes: 30
    tasks:
      - task: talk
        type: python
        image: chatty/app
        cmd: python talk.py
"""

TALK = """\
import os, sys, time
n = int(os.environ["CHATTY_LINES"])
started = time.perf_counter()
for i in range(n):
    print(f"line {i} of the chatty task")  # one write per line, as a logging task would
sys.stdout.flush()
with open(os.environ["CHATTY_RESULT"], "w") as result:
    result.write(str(time.perf_counter() - started))
"""


def timed_run(liminal: Path, project: Path, lines: int) -> tuple[float, float, int]:
    """(wall seconds of `liminal run`, the task's seconds to print, terminal bytes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["CHATTY_LINES"] = str(lines)
    env["CHATTY_RESULT"] = str(project / "result.txt")
    started = time.perf_counter()
    done = subprocess.run(
        [str(liminal), "run", str(project)], env=env, capture_output=True, timeout=3600
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"liminal run failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}")
    return took, float((project / "result.txt").read_text()), len(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--liminal", type=Path, default=REPO / ".venv" / "bin" / "liminal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liminal-run-output-") as folder:
        project = Path(folder)
        (project / "liminal.yml").write_text(PROJECT)
        (project / "talk.py").write_text(TALK)
        wall, printing, terminal_bytes = timed_run(args.liminal, project, args.lines)
    print(f"liminal:            {args.liminal}")
    print(f"lines:              {args.lines:,}")
    print(f"liminal run, wall:  {wall:.2f} s")
    print(f"task printing:      {printing:.2f} s")
    print(f"terminal output:    {terminal_bytes:,} bytes")
    print(f"lines/s:            {args.lines / printing:,.0f}")


if __name__ == "__main__":
    main()

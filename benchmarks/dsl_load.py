"""How long `load_project` takes on a generated liminal.yml with N pipelines of three tasks.

Usage: .venv/bin/python benchmarks/dsl_load.py [N]   (prints seconds and pipelines per second)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from liminal_pulumi.dsl.loader import load_project


def liminal_yml(pipelines: int) -> str:
    lines = ["name: bench", "images:", "  - image: img", "    type: python", "pipelines:"]
    for p in range(pipelines):
        lines += [
            f"  - pipeline: pipeline_{p}",
            "    start_date: 2024-01-01",
            "    timeout_minutes: 30",
            "    schedule: 0 * * * *",
            "    tasks:",
        ]
        for t in range(3):
            lines += [
                f"      - task: task_{t}",
                "        type: python",
                "        image: img",
                f"        cmd: python -u step.py {t} {{{{ ds }}}}",
                "        env_vars: {STEP: '1'}",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    pipelines = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "liminal.yml").write_text(liminal_yml(pipelines))
        load_project(folder)  # warm imports
        start = time.perf_counter()
        project = load_project(folder)
        elapsed = time.perf_counter() - start
    tasks = sum(len(p.tasks) for _, p in project.pipelines())
    print(
        f"pipelines={pipelines} tasks={tasks} load_seconds={elapsed:.3f} "
        f"pipelines_per_second={pipelines / elapsed:.0f}"
    )


if __name__ == "__main__":
    main()

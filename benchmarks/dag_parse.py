"""How long Airflow takes to parse the liminal DAG loader, against the floor and Liminal 0.0.5.

For N pipelines of three python tasks (plus liminal's start/end tasks), this builds a DAGs folder
as the AWS stack uploads it (loader bundle + compiled project) and times Airflow's DagBag over the
loader, warm, median of --runs. In the same run it times the floor: a DagBag over a DAG file that
builds the very same DAG objects with the same operators by hand from an already-parsed dict.
Optionally (--peer PEER_DIR, set up as /work/shared/bench/README.md says) it measures Liminal
0.0.5's DagBag time at N=500 in the same run; otherwise --baseline-ms gives that figure.

    .venv/bin/python benchmarks/dag_parse.py [--ns 100,500,1000] [--runs 5] [--peer DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="liminal-dag-parse-"))
os.environ.setdefault("AIRFLOW_HOME", str(WORK / "airflow"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("LIMINAL_HOME", None)

TASKS = ("extract", "train", "validate")


def liminal_yml(n: int) -> str:
    lines = [
        "name: bench_app",
        "owner: bench",
        "images:",
        "  - image: bench/python_image",
        "    type: python",
        "    source: .",
        "pipelines:",
    ]
    for i in range(n):
        lines += [
            f"  - pipeline: bench_pipeline_{i:05d}",
            "    owner: bench",
            "    start_date: 1970-01-01",
            "    timeout_minutes: 45",
            "    schedule: 0 * 1 * *",
            "    tasks:",
        ]
        for task in TASKS:
            lines += [
                f"      - task: {task}",
                "        type: python",
                "        image: bench/python_image",
                f"        cmd: python -u {task}.py {{{{ ds }}}}",
                "        env_vars:",
                "          MOUNT_PATH: /mnt/vol",
            ]
    return "\n".join(lines) + "\n"


FLOOR_DAG_FILE = '''\
"""The floor: the same DAGs, built by hand from an already-parsed dict (no airflow dag)."""
import datetime as dt
import sys

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

from liminal_pulumi.airflow.dag_builder import DAG
from liminal_pulumi.airflow.job_metrics import JobEndOperator, JobStartOperator

for spec in sys.modules["_floor_data"].PIPELINES:
    dag = DAG(
        dag_id=spec["pipeline"],
        schedule=spec["schedule"],
        start_date=spec["start_date"],
        dagrun_timeout=dt.timedelta(minutes=spec["timeout_minutes"]),
        catchup=False,
        default_args={"owner": spec["owner"], "depends_on_past": False},
    )
    previous = JobStartOperator(task_id="start", pipeline=spec["pipeline"], dag=dag)
    for task in spec["tasks"]:
        operator = KubernetesPodOperator(
            task_id=task["task"],
            dag=dag,
            namespace="liminal",
            image=task["image"],
            cmds=["/bin/bash", "-c"],
            arguments=[task["cmd"]],
            env_vars=dict(task["env_vars"]),
            volumes=[],
            volume_mounts=[],
            secrets=[],
            get_logs=True,
            on_finish_action="delete_pod",
        )
        previous >> operator
        previous = operator
    end = JobEndOperator(
        task_id="end", pipeline=spec["pipeline"], trigger_rule="all_done", dag=dag
    )
    previous >> end
    globals()["floor_" + spec["pipeline"]] = dag
'''


def dags_folder(n: int) -> Path:
    from liminal_pulumi.airflow.bundle import loader_files, project_files
    from liminal_pulumi.dsl.loader import load_project

    project_root = WORK / f"project_{n}" / "bench"
    project_root.mkdir(parents=True)
    (project_root / "liminal.yml").write_text(liminal_yml(n))
    folder = WORK / f"dags_{n}"
    files: dict[str, bytes] = {k: v.read_bytes() for k, v in loader_files().items()}
    files.update(project_files(load_project(project_root)))
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    return folder


def floor_data(n: int) -> list[dict]:
    import datetime as dt

    import yaml

    data = yaml.safe_load(liminal_yml(n))
    for pipeline in data["pipelines"]:
        pipeline["start_date"] = dt.datetime.combine(pipeline["start_date"], dt.time(), dt.UTC)
    return data["pipelines"]


def timed_dagbag(path: Path, n: int, runs: int) -> list[float]:
    import gc

    from airflow.models import DagBag

    times = []
    for _ in range(runs):
        # The same heap state before every run: otherwise a full collection falls inside one
        # run and not another, by chance (seen: the floor at N=500 from 490 to 830 ms).
        gc.collect()
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(path), include_examples=False)
        times.append(time.perf_counter() - start)
        assert len(bag.dags) == n and not bag.import_errors, (len(bag.dags), bag.import_errors)
        assert all(len(d.tasks) == 5 for d in bag.dags.values())
        del bag
    return times


def cold_parse(folder: Path, n: int) -> float:
    """A fresh process importing Airflow + DagBag over the loader (Airflow 3 parses each DAG
    file in a fresh process): the DagBag part only."""
    code = textwrap.dedent(f"""
        import time
        from airflow.models import DagBag
        t = time.perf_counter()
        bag = DagBag(dag_folder={str(folder / "liminal_dags.py")!r}, include_examples=False)
        assert len(bag.dags) == {n}
        print(time.perf_counter() - t)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def peer_dagbag_ms(peer: Path, runs: int) -> float | None:
    results = WORK / "peer-results"
    done = subprocess.run(
        [
            str(peer / "venv" / "bin" / "python"),
            str(peer / "bench_dags.py"),
            "--ns",
            "500",
            "--runs",
            str(runs),
            "--no-cold",
            "--results",
            str(results),
            "--work",
            str(WORK / "peer-work"),
        ],
        capture_output=True,
        text=True,
    )
    for line in done.stdout.splitlines():
        if "DagBag" in line and "N=500" in line:
            return float(line.split("median")[1].split("ms")[0])
    print(done.stdout[-2000:], done.stderr[-2000:])
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ns", default="100,500,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peer", type=Path, help="a set-up Liminal 0.0.5 benchmark folder")
    parser.add_argument(
        "--baseline-ms", type=float, default=9900.0, help="Liminal 0.0.5 at N=500 without --peer"
    )
    parser.add_argument("--no-cold", action="store_true")
    args = parser.parse_args()
    ns = [int(x) for x in args.ns.split(",")]

    import logging

    logging.disable(logging.WARNING)
    folders = {n: dags_folder(n) for n in ns}
    sys.path.insert(0, str(WORK))
    floor_file = WORK / "floor_dags" / "floor_dags.py"
    floor_file.parent.mkdir()
    floor_file.write_text(FLOOR_DAG_FILE)
    import types

    floor_module = types.ModuleType("_floor_data")
    sys.modules["_floor_data"] = floor_module

    # warm up imports and lazy caches on both paths
    floor_module.PIPELINES = floor_data(2)  # type: ignore[attr-defined]
    timed_dagbag(floor_file, 2, 2)
    warm = dags_folder(2)
    timed_dagbag(warm / "liminal_dags.py", 2, 2)

    print(f"Airflow DagBag parse, warm, median of {args.runs} runs (work dir {WORK})")
    print(f"{'N':>6} {'loader ms':>10} {'per-pipe ms':>12} {'floor ms':>9} {'ratio':>6}")
    medians = {}
    for n in ns:
        floor_module.PIPELINES = floor_data(n)  # type: ignore[attr-defined]
        # alternate the two, so that both see the same moments of the machine
        loader_times, floor_times = [], []
        for _ in range(args.runs):
            loader_times += timed_dagbag(folders[n] / "liminal_dags.py", n, 1)
            floor_times += timed_dagbag(floor_file, n, 1)
        loader = statistics.median(loader_times)
        floor = statistics.median(floor_times)
        medians[n] = loader
        print(
            f"{n:>6} {loader * 1000:>10.1f} {loader / n * 1000:>12.3f} "
            f"{floor * 1000:>9.1f} {loader / floor:>6.2f}"
        )
    if len(ns) > 1:
        small, large = min(ns), max(ns)
        growth = (medians[large] / large) / (medians[small] / small)
        print(f"linearity: per-pipeline cost at N={large} / at N={small} = {growth:.2f}")
    if 500 in folders:
        if not args.no_cold:
            print(
                f"cold DagBag (fresh process) N=500: {cold_parse(folders[500], 500) * 1000:.1f} ms"
            )
        baseline = args.baseline_ms
        source = "given"
        if args.peer:
            measured = peer_dagbag_ms(args.peer, max(1, args.runs // 2))
            if measured is not None:
                baseline, source = measured, "measured now"
        print(
            f"Liminal 0.0.5 DagBag N=500 ({source}): {baseline:.0f} ms -> this loader is "
            f"{baseline / (medians[500] * 1000):.1f}x faster"
        )


if __name__ == "__main__":
    main()

"""`liminal run`: a project's pipelines with real Airflow on this machine.

The same plans and the same DAG builder as the MWAA loader, with one difference: container
tasks run as local processes in their image's source folder (with this Python first on PATH)
instead of pods, and each volume is a local folder (its `local.path`, else
`.liminal/volumes/<name>`). Mount paths written for the cluster (`/mnt/...`) are rewritten to
those folders in the command and environment, and `LIMINAL_MOUNT_<VOLUME>` points at each, so a
project written for AWS runs unchanged.

Airflow runs in-process (`dag.test()`) on a SQLite metadata database under
`<project>/.liminal/airflow`; its own output goes to `.liminal/airflow/liminal-run.log`, the
terminal shows only progress and the tasks' own output. Call `prepare_airflow` before anything
imports Airflow: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from liminal_pulumi import defaults

if TYPE_CHECKING:
    from rich.console import Console

    from liminal_pulumi.airflow.dag_plan import ContainerPlan, DagPlan, TaskPlan
    from liminal_pulumi.dsl.model import Project

LOG_FILE_NAME = "liminal-run.log"
_KILL_GRACE_SECONDS = 5


def state_dir(project_root: Path) -> Path:
    return project_root / defaults.LOCAL_STATE_DIR


def airflow_home(project_root: Path) -> Path:
    return state_dir(project_root) / defaults.LOCAL_AIRFLOW_DIR


def volume_folder(project_root: Path, name: str, local_path: Path | None) -> Path:
    if local_path is not None:
        return local_path if local_path.is_absolute() else project_root / local_path
    return state_dir(project_root) / defaults.LOCAL_VOLUMES_DIR / name


def mount_env_name(volume: str) -> str:
    return "LIMINAL_MOUNT_" + re.sub(r"[^A-Za-z0-9]", "_", volume).upper()


def rewrite_mount_paths(text: str, mounts: dict[str, str]) -> str:
    """Cluster mount paths in `text` replaced by their local folders (longest path first)."""
    for remote in sorted(mounts, key=len, reverse=True):
        text = re.sub(re.escape(remote.rstrip("/")) + r"(?=$|[/\s\"':;,=])", mounts[remote], text)
    return text


def prepare_airflow(project_root: Path) -> Path:
    """Point Airflow's configuration at the project's local home; returns the log file path."""
    home = airflow_home(project_root)
    (home / "dags").mkdir(parents=True, exist_ok=True)
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": "liminal-local-run-only",
    }
    os.environ.update(settings)
    return home / LOG_FILE_NAME


def _migrate_once(project_root: Path) -> None:
    """`airflow db migrate`, only when this Airflow version has not migrated the DB yet."""
    import airflow
    from airflow.utils import db

    marker = airflow_home(project_root) / f".migrated-{airflow.__version__}"
    if not marker.exists():
        db.upgradedb()
        marker.touch()


# --- what the terminal shows -------------------------------------------------------------------


@dataclass
class Progress:
    """Task events from inside the run, written to the user's terminal."""

    console: Console
    tails: dict[str, collections.deque[str]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def output(self, task_id: str, line: str) -> None:
        tail = self.tails.setdefault(
            task_id, collections.deque(maxlen=defaults.LOCAL_LOG_TAIL_LINES)
        )
        tail.append(line)
        self.console.print(
            f"[dim]{task_id} |[/dim] {escape(line)}", highlight=False, soft_wrap=True
        )

    def task_started(self, context: Any) -> None:
        task_id = context["task"].task_id
        self.started[task_id] = time.monotonic()
        self.console.print(f"[bold]> {task_id}[/bold] running")

    def task_finished(self, context: Any, ok: bool) -> None:
        task_id = context["task"].task_id
        took = time.monotonic() - self.started.get(task_id, time.monotonic())
        if ok:
            self.console.print(f"[green]v {task_id}[/green] success in {took:.1f}s")
        else:
            self.console.print(f"[red]x {task_id}[/red] failed after {took:.1f}s")


def _listen_for_failures(progress: Progress) -> None:
    """Record each failed task's error (in-process runs don't give it to failure callbacks)."""
    from airflow.listeners import hookimpl
    from airflow.listeners.listener import get_listener_manager

    class FailureListener:
        @hookimpl
        def on_task_instance_failed(
            self, previous_state: Any, task_instance: Any, error: Any
        ) -> None:
            if error is not None:
                text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
                progress.failures[task_instance.task_id] = text

    get_listener_manager().add_listener(FailureListener())


_progress: Progress | None = None


def _on_task_start(context: Any) -> None:
    if _progress is not None:
        _progress.task_started(context)


def _on_task_success(context: Any) -> None:
    if _progress is not None:
        _progress.task_finished(context, True)


def _on_task_failure(context: Any) -> None:
    if _progress is not None:
        _progress.task_finished(context, False)


@contextlib.contextmanager
def _quiet(log_file: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 to the log file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


# --- container tasks as local processes --------------------------------------------------------


def _kill_group(process: subprocess.Popen[str]) -> None:
    """End every process of the task's group, the main one and any it left running.

    As in a pod, where the container ends with its main process: a background child that the
    command started (`server &`) must not outlive the task, nor keep its output open.
    """
    group = process.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + _KILL_GRACE_SECONDS
        while time.monotonic() < deadline:
            process.poll()  # reap the main process, so that it does not count as alive
            os.killpg(group, 0)  # ProcessLookupError: the group is empty
            time.sleep(0.05)
        os.killpg(group, signal.SIGKILL)
    process.wait()


def run_command(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_seconds: float,
    on_line: Callable[[str], None],
) -> int:
    """Run `command` through bash in its own process group, streaming its output lines.

    The task ends when bash ends (or at the timeout, status 124); then the whole group is killed,
    on interrupt or any error here too: nothing is left behind.
    """
    process = subprocess.Popen(
        ["/bin/bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )

    def stream() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line.rstrip("\n"))

    reader = threading.Thread(target=stream, daemon=True)
    reader.start()
    try:
        try:
            code = process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            on_line(f"timed out after {timeout_seconds:.0f}s: stopping the task")
            code = 124
    finally:
        _kill_group(process)
        reader.join(timeout=_KILL_GRACE_SECONDS)
    return code


def _local_operator_class() -> type:
    try:
        from airflow.sdk import BaseOperator
    except ImportError:  # Airflow 2
        from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.exceptions import AirflowException

    class LocalProcessOperator(BaseOperator):  # type: ignore[misc,valid-type]
        """A container task run as a local process (the local stand-in for the pod)."""

        template_fields = ("command", "env")
        ui_color = "#e8f7e4"

        def __init__(
            self,
            *,
            command: str,
            env: dict[str, str],
            cwd: str,
            mounts: dict[str, str],
            timeout_seconds: float,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.command = command
            self.env = env
            self.cwd = cwd
            self.mounts = mounts
            self.timeout_seconds = timeout_seconds

        def execute(self, context: Any) -> None:
            command = rewrite_mount_paths(self.command, self.mounts)
            env = dict(os.environ)
            # `python` is this interpreter's, with the project's dependencies
            env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
            env.update({k: rewrite_mount_paths(str(v), self.mounts) for k, v in self.env.items()})
            env["LIMINAL_LOCAL_RUN"] = "1"

            task_id = self.task_id

            def on_line(line: str) -> None:
                self.log.info("%s", line)
                if _progress is not None:
                    _progress.output(task_id, line)

            code = run_command(
                command,
                cwd=Path(self.cwd),
                env=env,
                timeout_seconds=self.timeout_seconds,
                on_line=on_line,
            )
            if code != 0:
                raise AirflowException(f"`{command}` exited with status {code}")

    return LocalProcessOperator


def local_operator_factory(
    project_root: Path, timeout_seconds: float
) -> Callable[[TaskPlan, ContainerPlan, dict[str, Any]], Any]:
    """The DAG builder's container operator for local runs."""
    operator_class = _local_operator_class()

    def factory(task: TaskPlan, container: ContainerPlan, common: dict[str, Any]) -> Any:
        mounts: dict[str, str] = {}
        extra_env: dict[str, str] = {}
        for mount in container.mounts:
            folder = volume_folder(project_root, mount.volume, mount.local_path)
            if mount.sub_path:
                folder = folder / mount.sub_path
            folder.mkdir(parents=True, exist_ok=True)
            mounts[mount.path] = str(folder)
            extra_env[mount_env_name(mount.volume)] = str(folder)
        for secret in container.secrets:
            folder = state_dir(project_root) / "secrets" / secret.secret
            folder.mkdir(parents=True, exist_ok=True)
            if secret.local_path_file and secret.local_path_file.is_file():
                shutil.copyfile(secret.local_path_file, folder / "credentials")
            mounts[secret.remote_path] = str(folder)
        cwd = container.source if container.source and container.source.is_dir() else project_root
        return operator_class(
            **common,
            command=container.command,
            env={**extra_env, **container.env},
            cwd=str(cwd),
            mounts=mounts,
            timeout_seconds=timeout_seconds,
        )

    return factory


# --- running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    state: str
    seconds: float | None


@dataclass(frozen=True)
class PipelineOutcome:
    pipeline: str
    state: str
    tasks: tuple[TaskOutcome, ...]

    @property
    def ok(self) -> bool:
        return self.state == "success"


def select_plans(project: Project, pipeline: str | None) -> list[DagPlan]:
    """The plans to run (local deployment facts); `pipeline` picks one by name."""
    from liminal_pulumi.airflow.dag_plan import plan_pipeline
    from liminal_pulumi.airflow.deployment import DeploymentFacts
    from liminal_pulumi.airflow.drift_plan import plan_drift_dags

    facts = DeploymentFacts.local()
    plans = [plan_pipeline(f, p, facts, project.root) for f, p in project.pipelines()]
    plans += [d for f in project.files for d in plan_drift_dags(f, facts, project.root)]
    if pipeline is not None:
        plans = [p for p in plans if p.dag_id == pipeline]
    return plans


def _run_dag(plan: DagPlan, project_root: Path, conf: dict[str, Any] | None) -> PipelineOutcome:
    from liminal_pulumi.airflow.dag_builder import build_dag

    assert _progress is not None
    factory = local_operator_factory(project_root, plan.dagrun_timeout.total_seconds())
    dag = build_dag(plan, container_operator=factory)
    for task in dag.tasks:
        # module functions, not bound methods: Airflow deep-copies tasks, a console can't be
        task.on_execute_callback = [_on_task_start]
        task.on_success_callback = [_on_task_success]
        task.on_failure_callback = [_on_task_failure]
    run = dag.test(run_conf=conf)
    outcomes = []
    order = [t.task_id for t in dag.tasks]
    instances = {ti.task_id: ti for ti in run.get_task_instances()}
    for task_id in order:
        ti = instances.get(task_id)
        state = str(getattr(ti.state, "value", ti.state)) if ti and ti.state else "not run"
        seconds = ti.duration if ti is not None else None
        outcomes.append(TaskOutcome(task_id, state, seconds))
    state = str(getattr(run.state, "value", run.state))
    return PipelineOutcome(plan.dag_id, state, tuple(outcomes))


def terminal_console() -> Console:
    """A console on the terminal itself, unaffected by `_quiet` redirecting fds 1 and 2."""
    from rich.console import Console

    return Console(file=open(os.dup(1), "w", buffering=1))  # noqa: SIM115 (lives with the run)


def run_project(
    project: Project,
    console: Console,
    pipeline: str | None = None,
    conf: dict[str, Any] | None = None,
) -> list[PipelineOutcome]:
    """Run the project's pipelines one after another; returns their outcomes.

    `prepare_airflow(project.root)` must have run before Airflow was first imported; `console`
    should come from `terminal_console()`.
    """
    from rich.table import Table

    global _progress
    plans = select_plans(project, pipeline)
    log_file = airflow_home(project.root) / LOG_FILE_NAME
    _progress = Progress(console)
    outcomes = []
    try:
        with _quiet(log_file):
            _migrate_once(project.root)
            _listen_for_failures(_progress)
        for plan in plans:
            console.rule(f"pipeline [bold]{plan.dag_id}[/bold] ({plan.file_name})")
            started = time.monotonic()
            with _quiet(log_file):
                outcome = _run_dag(plan, project.root, conf)
            outcomes.append(outcome)
            table = Table(show_header=True, header_style="bold")
            table.add_column("task")
            table.add_column("state")
            table.add_column("seconds", justify="right")
            for task in outcome.tasks:
                colour = "green" if task.state == "success" else "red"
                seconds = f"{task.seconds:.1f}" if task.seconds is not None else "-"
                table.add_row(task.task_id, f"[{colour}]{task.state}[/{colour}]", seconds)
            console.print(table)
            verdict = "[green]success[/green]" if outcome.ok else f"[red]{outcome.state}[/red]"
            took = time.monotonic() - started
            console.print(f"pipeline {plan.dag_id}: {verdict} in {took:.1f}s")
            if not outcome.ok:
                _print_failures(console, outcome, _progress)
    finally:
        _progress = None
    console.print(f"[dim]Airflow's own log: {log_file}[/dim]")
    return outcomes


def _print_failures(console: Console, outcome: PipelineOutcome, progress: Progress) -> None:
    for task in outcome.tasks:
        if task.state != "failed":
            continue
        console.print(f"[red bold]task {task.task_id} failed[/red bold]")
        tail = progress.tails.get(task.task_id)
        if tail:
            console.print(f"last {len(tail)} line(s) of its output:")
            for line in tail:
                console.print(f"  {line}", markup=False, highlight=False)
        if task.task_id in progress.failures:
            console.print(f"  {progress.failures[task.task_id]}", markup=False, highlight=False)


def main(path: Path, pipeline: str | None = None, conf_json: str | None = None) -> int:
    """`liminal run`: 0 when every pipeline succeeded, 1 when one failed, 2 for user mistakes
    (bad options, or liminal.yml errors: the pipelines of the files without errors still run)."""
    import json

    from rich.console import Console

    from liminal_pulumi.dsl.loader import load_what_loads

    errors = Console(stderr=True, soft_wrap=True)  # a located error stays one line
    conf = None
    if conf_json is not None:
        try:
            conf = json.loads(conf_json)
        except ValueError as error:
            errors.print(f"--conf: not valid JSON: {error}", markup=False)
            return 2
        if not isinstance(conf, dict):
            errors.print('--conf: expected a JSON object, like \'{"key": "value"}\'')
            return 2
    if not path.exists():
        errors.print(f"{path}: no such file or folder", markup=False)
        return 2
    # A broken liminal.yml is reported and skipped: the other files' pipelines still run.
    project, problems = load_what_loads(path)
    for diagnostic in problems:
        errors.print(str(diagnostic), markup=False, highlight=False)
    if not project.files:
        return 2
    names = [p.pipeline for _, p in project.pipelines()]
    from liminal_pulumi.airflow.drift_plan import drift_pipeline_name

    names += [drift_pipeline_name(s) for _, s, m in project.monitored_services() if m.drift]
    if pipeline is not None and pipeline not in names:
        errors.print(
            f"--pipeline: no pipeline named {pipeline!r}; the project has: {', '.join(names)}",
            markup=False,
        )
        return 2
    if not names:
        errors.print(f"{path}: the project has no pipelines to run", markup=False)
        return 2
    prepare_airflow(project.root)
    console = terminal_console()
    try:
        outcomes = run_project(project, console, pipeline, conf)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    if problems:
        errors.print(f"{len(problems)} error(s) in liminal.yml files: their pipelines did not run")
        return 2
    return 0 if all(o.ok for o in outcomes) else 1

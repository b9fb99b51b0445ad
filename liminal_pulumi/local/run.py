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

import codecs
import collections
import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.markup import escape

from liminal_pulumi import defaults

if TYPE_CHECKING:
    from rich.console import Console

    from liminal_pulumi.airflow.dag_plan import ContainerPlan, DagPlan, TaskPlan
    from liminal_pulumi.dsl.model import Project

LOG_FILE_NAME = "liminal-run.log"
_KILL_GRACE_SECONDS = 5
_STOP_POLL_SECONDS = 0.2  # how often a waiting run looks whether it was told to stop


def state_dir(project_root: Path) -> Path:
    return project_root / defaults.LOCAL_STATE_DIR


def airflow_home(project_root: Path) -> Path:
    return state_dir(project_root) / defaults.LOCAL_AIRFLOW_DIR


def task_log_file(project_root: Path, dag_id: str, task_id: str) -> Path:
    """Where a local run writes a task's whole output (replaced at each run of the task)."""
    return state_dir(project_root) / defaults.LOCAL_TASK_LOGS_DIR / dag_id / f"{task_id}.log"


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


class RunLockedError(RuntimeError):
    """Another `liminal run` of the same project holds its lock."""


@contextlib.contextmanager
def run_lock(project_root: Path) -> Iterator[None]:
    """Hold the project's run lock (an `flock` on `.liminal/run.lock`) for the block.

    Two runs of one project would share its Airflow database and model store (set-up races,
    one promoting the other's model); the second is refused with RunLockedError, whose message
    names the running one. The kernel releases the lock when its holder dies, even by SIGKILL,
    so a crashed run never blocks the next one.
    """
    import datetime as dt
    import fcntl

    folder = state_dir(project_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / defaults.LOCAL_RUN_LOCK_FILE
    # not inherited by the tasks (Python opens files close-on-exec): an orphan can't hold it
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise RunLockedError(
                f"{project_root}: another `liminal run` of this project is running ({holder}); "
                "wait for it to end or stop it (Ctrl-C, kill -TERM)"
            ) from None
        lock.seek(0)
        lock.truncate()
        started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        lock.write(f"pid {os.getpid()}, started {started}\n")
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


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

    def output(self, task_id: str, lines: list[str], skipped: int, log_file: Path) -> None:
        """Show a batch of a task's output lines, after `skipped` lines left to its log file."""
        prefix = f"[dim]{escape(task_id)} |[/dim] "
        text = []
        if skipped:
            where = escape(str(log_file))
            text.append(f"{prefix}[dim]... {skipped:,} more line(s) in {where}[/dim]")
        text += [prefix + escape(line) for line in lines]
        # one print per batch: rich's cost is per call, not per line
        self.console.print("\n".join(text), highlight=False, soft_wrap=True)

    def remember(self, task_id: str, lines: list[str]) -> None:
        """Keep the task's last lines, for the report of a failure."""
        tail = self.tails.setdefault(
            task_id, collections.deque(maxlen=defaults.LOCAL_LOG_TAIL_LINES)
        )
        tail.extend(lines)

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


def _quiet_structlog() -> None:
    """Airflow 3's in-process supervisor (`dag.test`) logs through structlog's default set-up:
    every message at debug level, values included (the secrets it is asked to mask among them).
    Keep warnings and errors only, with registered secrets masked."""
    import logging

    import structlog

    from liminal_pulumi.airflow.runtime_variables import redact

    def mask_values(_logger: Any, _method: str, event: Any) -> Any:
        return {
            key: value if isinstance(value, int | float | bool) else redact(str(value))
            for key, value in event.items()
        }

    processors = structlog.get_config()["processors"]
    structlog.configure(
        processors=[mask_values, *processors],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def _listen_for_failures(progress: Progress) -> None:
    """Record each failed task's error (in-process runs don't give it to failure callbacks)."""
    from airflow.listeners import hookimpl
    from airflow.listeners.listener import get_listener_manager

    class FailureListener:
        @hookimpl
        def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
            # Airflow's task runner has just put its own SIGTERM handler in place: ours again
            install_stop_handlers()

        @hookimpl
        def on_task_instance_failed(
            self, previous_state: Any, task_instance: Any, error: Any
        ) -> None:
            if error is not None:
                text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
                progress.failures[task_instance.task_id] = _redact(text)

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

# The signal that stopped the run (SIGINT, SIGTERM), once one arrived; then no task starts and the
# running ones' process groups are ended.
_stop_signal: int | None = None
_running: dict[int, subprocess.Popen[bytes]] = {}  # process group id -> its leader

# Kills a task's process group when the pipe from `liminal run` closes without a word: that
# happens only when `liminal run` itself died (SIGKILL, a crash), as the kernel closes a dead
# process's descriptors. A normal end writes a line first. It runs in its own session, out of the
# group it may have to kill and out of reach of the terminal's Ctrl-C.
_WATCHDOG = (
    'if read -r _; then exit 0; fi; kill -TERM -- "-$1" 2>/dev/null || exit 0; '
    f'sleep {_KILL_GRACE_SECONDS}; kill -KILL -- "-$1" 2>/dev/null; exit 0'
)


def _end_group(group: int, process: subprocess.Popen[bytes]) -> None:
    """End every process of the task's group, the main one and any it left running.

    As in a pod, where the container ends with its main process: a background child that the
    command started (`server &`) must not outlive the task, nor keep its output open. SIGTERM
    first, SIGKILL after `_KILL_GRACE_SECONDS`.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + _KILL_GRACE_SECONDS
        while time.monotonic() < deadline:
            process.poll()  # reap the main process, so that it does not count as alive
            os.killpg(group, 0)  # ProcessLookupError: the group is empty
            time.sleep(0.05)
        os.killpg(group, signal.SIGKILL)


def request_stop(signum: int) -> None:
    """Stop the run: no further task starts, the running tasks' process groups are ended.

    Installed as the SIGINT and SIGTERM handler of `liminal run`; a second signal ends the run
    at once (the groups killed first, so nothing is left behind).
    """
    global _stop_signal
    again = _stop_signal is not None
    _stop_signal = signum
    for group in list(_running):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL if again else signal.SIGTERM)
    if again:
        os._exit(128 + signum)


def _on_stop_signal(signum: int, _frame: Any) -> None:
    request_stop(signum)


def install_stop_handlers() -> None:
    """Make SIGINT and SIGTERM stop the run (main thread only, as Python requires).

    Airflow's in-process task runner installs its own SIGTERM handler for each task (it calls
    the operator's `on_kill`), so the run re-installs these when each task starts.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_stop_signal)
        signal.signal(signal.SIGTERM, _on_stop_signal)


def stop_requested() -> int | None:
    return _stop_signal


class TaskOutput:
    """A task's output: every line to its log file, batches of the newest to the terminal.

    Printing each line through the logging and console machinery costs ~100 us, so a task that
    prints a million lines would take minutes just to be shown. Instead the output is written to
    the log file in the chunks it arrives in, and the terminal gets one batch per
    `LOCAL_OUTPUT_FLUSH_SECONDS` of at most `LOCAL_TERMINAL_BATCH_LINES` lines (the newest; a
    line says how many were left to the log file). Secrets registered with Airflow's secrets
    masker are masked in both.
    """

    def __init__(
        self,
        log_file: Path,
        show: Callable[[list[str], int], None],
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.log_file = log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_file, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._show = show
        self._redact = redact
        self._partial = ""
        self._pending: collections.deque[str] = collections.deque(
            maxlen=defaults.LOCAL_TERMINAL_BATCH_LINES
        )
        self._skipped = 0
        self._last_flush = 0.0
        self._lock = threading.Lock()
        self.lines = 0

    def feed(self, text: str) -> None:
        """Output as it arrives; a line is passed on once complete (or over `_MAX_LINE`)."""
        complete, newline, self._partial = (self._partial + text).rpartition("\n")
        if newline:
            self.write(complete.split("\n"))
        if len(self._partial) > _MAX_LINE:  # a progress bar redrawn with \r, say
            self.write([self._partial])
            self._partial = ""

    def write(self, lines: list[str]) -> None:
        """Whole lines (without their newlines): to the log now, to the terminal when due."""
        lines = self._redact("\n".join(lines)).split("\n")
        with self._lock:
            self._log.write("\n".join(lines) + "\n")
            self.lines += len(lines)
            # the pending deque keeps the newest lines; what it drops is counted as skipped
            dropped = len(self._pending) + len(lines) - defaults.LOCAL_TERMINAL_BATCH_LINES
            self._skipped += max(0, dropped)
            self._pending.extend(lines)
        if time.monotonic() - self._last_flush >= defaults.LOCAL_OUTPUT_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            self._log.flush()
            batch, skipped = list(self._pending), self._skipped
            self._pending.clear()
            self._skipped = 0
            self._last_flush = time.monotonic()
        if batch:
            self._show(batch, skipped)

    def close(self) -> None:
        if self._partial:
            self.write([self._partial])
            self._partial = ""
        self.flush()
        self._log.close()


_MAX_LINE = 1 << 16  # characters: a longer line without a newline is passed on as it is


def _pump(stream: IO[bytes], output: TaskOutput) -> None:
    """Copy a task's output into `output` until the stream ends, flushing at least every
    `LOCAL_OUTPUT_FLUSH_SECONDS` even while the task is silent."""
    descriptor = stream.fileno()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        ready, _, _ = select.select([descriptor], [], [], defaults.LOCAL_OUTPUT_FLUSH_SECONDS)
        if ready:
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                break
            output.feed(decoder.decode(chunk))
        else:
            output.flush()
    output.feed(decoder.decode(b"", final=True))


def run_command(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_seconds: float,
    output: TaskOutput,
) -> int:
    """Run `command` through bash in its own process group, its output into `output`.

    The task ends when bash ends (or at the timeout, status 124; or when the run is stopped, see
    `request_stop`, status 128 + the signal); then the whole group is killed, on any error here
    too. A watchdog process kills the group if `liminal run` itself dies: nothing is left behind.
    """
    process = subprocess.Popen(
        ["/bin/bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    group = process.pid  # the session leader's pid is its group's id
    _running[group] = process
    watchdog = subprocess.Popen(
        ["/bin/bash", "-c", _WATCHDOG, "liminal-task-watchdog", str(group)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(process.stdout, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while True:
            # in slices: a stop request ends the wait even when the task ignores SIGTERM (then
            # `_end_group` below kills it after the grace period)
            if _stop_signal is not None:
                code = 128 + _stop_signal
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                output.write([f"timed out after {timeout_seconds:.0f}s: stopping the task"])
                code = 124
                break
            try:
                code = process.wait(timeout=min(remaining, _STOP_POLL_SECONDS))
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        _end_group(group, process)
        process.wait()
        _running.pop(group, None)
        with contextlib.suppress(OSError):  # the task ended normally: the watchdog stands down
            assert watchdog.stdin is not None
            watchdog.stdin.write(b"done\n")
            watchdog.stdin.close()
        watchdog.wait()
        reader.join(timeout=_KILL_GRACE_SECONDS)
        output.close()
    return code


def _local_operator_class() -> type:
    try:
        from airflow.sdk import BaseOperator
    except ImportError:  # Airflow 2
        from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.exceptions import AirflowException, AirflowFailException

    from liminal_pulumi.airflow.runtime_variables import mask_file_secrets, redact

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
            log_file: str,
            secret_files: tuple[str, ...] = (),
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.command = command
            self.env = env
            self.cwd = cwd
            self.mounts = mounts
            self.timeout_seconds = timeout_seconds
            self.log_file = log_file
            self.secret_files = secret_files

        def execute(self, context: Any) -> None:
            if _stop_signal is not None:
                raise AirflowFailException(f"not started: the run was stopped ({_signal_name()})")
            for secret_file in self.secret_files:
                mask_file_secrets(Path(secret_file))
            command = rewrite_mount_paths(self.command, self.mounts)
            env = dict(os.environ)
            # `python` is this interpreter's, with the project's dependencies
            env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
            env.update({k: rewrite_mount_paths(str(v), self.mounts) for k, v in self.env.items()})
            env["LIMINAL_LOCAL_RUN"] = "1"

            task_id = self.task_id

            def show(lines: list[str], skipped: int) -> None:
                if _progress is not None:
                    _progress.remember(task_id, lines)
                    _progress.output(task_id, lines, skipped, Path(self.log_file))

            output = TaskOutput(Path(self.log_file), show, redact)
            self.log.info("the task's output: %s", self.log_file)
            code = run_command(
                command,
                cwd=Path(self.cwd),
                env=env,
                timeout_seconds=self.timeout_seconds,
                output=output,
            )
            if _stop_signal is not None:
                raise AirflowFailException(f"stopped: the run was stopped ({_signal_name()})")
            if code != 0:
                # Not the command: rendered, it may hold a secret (the log file has the output).
                raise AirflowException(
                    f"the task's command exited with status {code}; its output: {self.log_file}"
                )

        def on_kill(self) -> None:
            # Airflow's task runner calls this on SIGTERM; the run stops as for our own handler
            request_stop(signal.SIGTERM)

    return LocalProcessOperator


def _signal_name() -> str:
    return signal.Signals(_stop_signal).name if _stop_signal is not None else "no signal"


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
        secret_files = []
        for secret in container.secrets:
            folder = state_dir(project_root) / "secrets" / secret.secret
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if secret.local_path_file and secret.local_path_file.is_file():
                shutil.copyfile(secret.local_path_file, folder / "credentials")
                os.chmod(folder / "credentials", 0o600)
                secret_files.append(str(folder / "credentials"))
            mounts[secret.remote_path] = str(folder)
        cwd = container.source if container.source and container.source.is_dir() else project_root
        log_file = task_log_file(project_root, common["dag"].dag_id, task.task_id)
        return operator_class(
            **common,
            command=container.command,
            env={**extra_env, **container.env},
            cwd=str(cwd),
            mounts=mounts,
            timeout_seconds=timeout_seconds,
            log_file=str(log_file),
            secret_files=tuple(secret_files),
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
            _quiet_structlog()
            _migrate_once(project.root)
            _listen_for_failures(_progress)
        for plan in plans:
            if _stop_signal is not None:
                break
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
            if not outcome.ok and _stop_signal is None:
                _print_failures(console, outcome, _progress)
    finally:
        _progress = None
    if _stop_signal is not None:
        console.print(f"[red]stopped by {_signal_name()}[/red]: no task is left running")
    console.print(f"[dim]Airflow's own log: {log_file}[/dim]")
    return outcomes


def _redact(text: str) -> str:
    from liminal_pulumi.airflow.runtime_variables import redact

    return redact(text)


def _print_failures(console: Console, outcome: PipelineOutcome, progress: Progress) -> None:
    for task in outcome.tasks:
        if task.state != "failed":
            continue
        console.print(f"[red bold]task {task.task_id} failed[/red bold]")
        tail = progress.tails.get(task.task_id)
        if tail:
            console.print(f"last {len(tail)} line(s) of its output:")
            console.print("\n".join(f"  {line}" for line in tail), markup=False, highlight=False)
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
    install_stop_handlers()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(run_lock(project.root))
        except RunLockedError as error:
            errors.print(f"error: {error}", markup=False, highlight=False)
            return 2
        prepare_airflow(project.root)
        console = terminal_console()
        try:
            outcomes = run_project(project, console, pipeline, conf)
        except KeyboardInterrupt:  # before the handlers were in place
            request_stop(signal.SIGINT)
    if _stop_signal is not None:
        return 128 + _stop_signal
    if problems:
        errors.print(f"{len(problems)} error(s) in liminal.yml files: their pipelines did not run")
        return 2
    return 0 if all(o.ok for o in outcomes) else 1

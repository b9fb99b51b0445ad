"""The validated, merged, immutable model of a liminal project.

`liminal_pulumi.dsl.loader.load_project` turns a folder of liminal.yml files into one `Project`; the
DAG builder, the local runner, the server, the image builder and the AWS components read only
this model, never raw YAML. Inheritance (`super`), defaults and load-time placeholders are
already applied here; placeholders that can only be resolved when a task runs (Airflow macros such
as `{{ ds }}`, the DAG run's conf, Airflow Variables, environment) are kept verbatim in the
run-time fields (`cmd`, `env_vars`, spark arguments, CloudFormation properties).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from liminal_pulumi import defaults


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- volumes, secrets, metrics -----------------------------------------------------------------


class Volume(Model):
    volume: str
    claim_name: str | None = None
    # `local.path` in liminal.yml: where the volume lives on a laptop (resolved, absolute).
    local_path: Path | None = None


class Secret(Model):
    secret: str
    local_path_file: Path | None = None


class Mount(Model):
    volume: str
    path: str
    sub_path: str | None = None
    read_only: bool = False


class SecretMount(Model):
    secret: str
    remote_path: str


class Metrics(Model):
    namespace: str | None = None
    backends: tuple[str, ...] = ()


# --- images ------------------------------------------------------------------------------------


class Endpoint(Model):
    endpoint: str
    module: str
    function: str


class _Image(Model):
    image: str
    # The build context: a folder, resolved against the liminal.yml that declares the image.
    source: Path
    python_version: str = defaults.DEFAULT_PYTHON_VERSION
    no_cache: bool = False
    pip_conf: str | None = None


class PythonImage(_Image):
    type: Literal["python"] = "python"


class PythonServerImage(_Image):
    type: Literal["python_server"] = "python_server"
    endpoints: tuple[Endpoint, ...] = ()


class SparkImage(_Image):
    type: Literal["spark"] = "spark"


Image = Annotated[PythonImage | PythonServerImage | SparkImage, Field(discriminator="type")]


# --- executors ---------------------------------------------------------------------------------


class KubernetesExecutor(Model):
    executor: str
    type: Literal["kubernetes"] = "kubernetes"
    namespace: str | None = None
    # Every other key of the executor's mapping, passed on to the pod operator as is.
    pod_args: dict[str, Any] = Field(default_factory=dict)


class AirflowExecutor(Model):
    executor: str
    type: Literal["airflow"] = "airflow"


class EmrExecutor(Model):
    executor: str
    type: Literal["emr"] = "emr"
    cluster_id: str | None = None
    cluster_name: str | None = None
    aws_conn_id: str = defaults.DEFAULT_EMR_CONN_ID
    cluster_states: tuple[str, ...] = defaults.DEFAULT_EMR_CLUSTER_STATES
    properties: dict[str, Any] = Field(default_factory=dict)


Executor = Annotated[
    KubernetesExecutor | AirflowExecutor | EmrExecutor, Field(discriminator="type")
]


# --- tasks -------------------------------------------------------------------------------------


class _Task(Model):
    task: str
    executor: str
    description: str | None = None
    # Task-level liminal variables, consulted at run time after the DAG run's conf.
    variables: dict[str, Any] = Field(default_factory=dict)
    do_xcom_push: bool = False


class _ContainerTask(_Task):
    image: str | None = None
    env_vars: dict[str, str] = Field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    secrets: tuple[SecretMount, ...] = ()


class PythonTask(_ContainerTask):
    type: Literal["python"] = "python"
    image: str
    cmd: str


class SparkTask(_ContainerTask):
    type: Literal["spark"] = "spark"
    application_source: str
    class_name: str | None = Field(default=None, alias="class")
    master: str | None = None
    deploy_mode: str | None = None  # spark-submit --deploy-mode (client or cluster)
    conf: dict[str, str] = Field(default_factory=dict)  # flattened: "spark.a.b" -> "v"
    application_arguments: tuple[str, ...] = ()  # a mapping in liminal.yml becomes k, v, k, v


class JobStartTask(_Task):
    type: Literal["job_start"] = "job_start"


class JobEndTask(_Task):
    type: Literal["job_end"] = "job_end"


class CreateCloudFormationStackTask(_Task):
    type: Literal["create_cloudformation_stack"] = "create_cloudformation_stack"
    stack_name: str
    properties: dict[str, Any] = Field(default_factory=dict)


class DeleteCloudFormationStackTask(_Task):
    type: Literal["delete_cloudformation_stack"] = "delete_cloudformation_stack"
    stack_name: str


Task = Annotated[
    PythonTask
    | SparkTask
    | JobStartTask
    | JobEndTask
    | CreateCloudFormationStackTask
    | DeleteCloudFormationStackTask,
    Field(discriminator="type"),
]


# --- monitoring (a service's `monitoring` section) ----------------------------------------------


PredictionField = Literal["features", "response"]
DriftStatTest = Literal[
    "psi",
    "ks",
    "wasserstein",
    "jensenshannon",
    "kl_div",
    "chisquare",
    "hellinger",
    "anderson",
    "mannw",
    "cramer_von_mises",
    "ed",
    "t_test",
    "empirical_mmd",
]


class PredictionLog(Model):
    """`monitoring.prediction_log`: what the server writes about each sampled prediction.

    One JSON line per sampled call of a logged endpoint (`time`, `endpoint`, `status`,
    `latency_ms`, `model_version`, plus the `fields` chosen here) in
    `<monitoring.path>/predictions/`, one file per server process, rotated at `max_bytes` with
    `backups` older files kept: at most `(backups + 1) * max_bytes` bytes per process. Writing
    never blocks or fails a request: lines go through a bounded queue to a background thread and
    are dropped (and counted in `/metrics`) when it is full.
    """

    enabled: bool = True
    # The fraction of calls logged, 0 (none) to 1 (all); sampled independently per call.
    sample_rate: float = Field(default=defaults.PREDICTION_LOG_SAMPLE_RATE, ge=0, le=1)
    # `features`: the request body (parsed JSON when it is JSON); `response`: what was returned.
    fields: tuple[PredictionField, ...] = defaults.PREDICTION_LOG_FIELDS
    max_bytes: int = Field(default=defaults.PREDICTION_LOG_MAX_BYTES, ge=4096)
    backups: int = Field(default=defaults.PREDICTION_LOG_BACKUPS, ge=0)


class Drift(Model):
    """`monitoring.drift`: a scheduled comparison of logged requests with reference data.

    The DAG loader adds one pipeline per monitored service (DAG id `<service>_drift`, on
    `schedule`) that reads the newest logged `features` (at most `max_rows`, none older than
    `window_hours`) and `reference`, tests each feature with `stattest` (Evidently's names; None:
    Evidently's default for the column's type and size) at `threshold` (None: the test's
    default: a p-value of 0.05 for ks, a distance of 0.1 for psi, wasserstein...) and calls the
    dataset drifted when the share of drifted features reaches `drift_share`. It writes
    `report.html` and `summary.json` under `<monitoring.path>/drift/` and publishes DriftShare
    and per-feature metrics. Fewer than `min_rows` logged rows: no verdict, said so.
    """

    # A CSV (header row, one column per feature) at a path the service mounts, e.g. written by
    # the training task into the model store: /mnt/gettingstartedvol/reference.csv.
    reference: str
    schedule: str | None = defaults.DRIFT_SCHEDULE  # cron or preset; None: triggered by hand
    stattest: DriftStatTest | None = None
    threshold: float | None = Field(default=None, gt=0)
    drift_share: float = Field(default=defaults.DRIFT_SHARE, gt=0, le=1)
    window_hours: float = Field(default=defaults.DRIFT_WINDOW_HOURS, gt=0)
    max_rows: int = Field(default=defaults.DRIFT_MAX_ROWS, ge=1)
    min_rows: int = Field(default=defaults.DRIFT_MIN_ROWS, ge=1)
    # The features compared; empty: every column of the reference the logs also hold.
    features: tuple[str, ...] = ()
    # The image the drift task runs in on Kubernetes (it needs `liminal-pulumi[monitoring]`);
    # None: the platform's drift image. Locally the task runs in the current environment.
    image: str | None = None


class Notify(Model):
    """`monitoring.alerts.notify`: the subscribers of the environment's alert topic (SNS)."""

    email: tuple[str, ...] = ()
    https: tuple[str, ...] = ()  # https:// endpoints only (SNS confirms each subscription)


class Alerts(Model):
    """`monitoring.alerts`: the alarms of a monitored service; a threshold set to null is off.

    `error_rate` is the fraction (0-1) of requests answered 5xx, `p99_latency_ms` the 99th
    percentile of request latency in milliseconds, `drift_share` the share of drifted features
    in the last drift report, each over `period_seconds` (a multiple of 60, as CloudWatch
    requires for metrics published less often than every 10 s) and `evaluation_periods` periods
    in a row. `pipeline_failure` alarms when a pipeline of the service's file ends failed.
    """

    error_rate: float | None = Field(default=defaults.ALERT_ERROR_RATE, gt=0, le=1)
    p99_latency_ms: float | None = Field(default=defaults.ALERT_P99_LATENCY_MS, gt=0)
    drift_share: float | None = Field(default=defaults.ALERT_DRIFT_SHARE, gt=0, le=1)
    pipeline_failure: bool = True
    period_seconds: int = Field(default=defaults.ALERT_PERIOD_SECONDS, ge=60, multiple_of=60)
    evaluation_periods: int = Field(default=defaults.ALERT_EVALUATION_PERIODS, ge=1)
    notify: Notify = Notify()


class Monitoring(Model):
    """A service's `monitoring` section (`service_defaults` may set it for every service).

    `monitoring: true` (or `{}`) turns everything on with defaults except drift (which needs a
    reference) and alerts (which need `alerts:`); `false`/null turns a parent's off. `path` is
    the folder (as the server sees it) holding `predictions/` and `drift/`; it must lie on one
    of the service's mounts (the model store), and defaults to
    `<first mount path>/monitoring/<service>`. `model_version_key` is the key of an endpoint's
    JSON response that names the model version (the iris example returns `version`); responses
    without it count under version `unknown`. `endpoints`: the endpoints logged and counted per
    model version; empty: the calls that carry a request body, to any endpoint whose function
    takes it (health probes and GETs without a body are not predictions).
    """

    path: str
    model_version_key: str = defaults.MODEL_VERSION_KEY
    endpoints: tuple[str, ...] = ()
    prediction_log: PredictionLog = PredictionLog()
    drift: Drift | None = None
    alerts: Alerts | None = None


# --- pipelines and services --------------------------------------------------------------------


class Pipeline(Model):
    pipeline: str
    start_date: dt.datetime
    timeout_minutes: int = Field(gt=0, le=defaults.MAX_TIMEOUT_MINUTES)
    schedule: str | None = None  # cron or preset; None: triggered by hand only
    owner: str | None = None
    depends_on_past: bool = False
    always_run: bool = False
    # Operator arguments every task inherits (retries, retry_delay in seconds, email, ...),
    # checked against Airflow's types (dsl/airflow_rules.py); plain JSON values.
    default_args: dict[str, Any] = Field(default_factory=dict)
    # DAG arguments (catchup, max_active_runs, tags, description, ...); plain JSON values.
    dag_args: dict[str, Any] = Field(default_factory=dict)
    # In run order: the base's `start` first, `end` last.
    tasks: tuple[Task, ...]


class Service(Model):
    service: str
    image: str
    description: str | None = None
    port: int = Field(
        default=defaults.SERVICE_PORT,
        ge=defaults.SERVICE_PORT_RANGE[0],
        le=defaults.SERVICE_PORT_RANGE[1],
    )
    workers: int = Field(default=defaults.SERVICE_WORKERS, ge=1, le=defaults.SERVICE_MAX_WORKERS)
    threads: int = Field(default=defaults.SERVICE_THREADS, ge=1, le=defaults.SERVICE_MAX_THREADS)
    timeout_seconds: int = Field(
        default=defaults.SERVICE_TIMEOUT_SECONDS, ge=1, le=defaults.SERVICE_MAX_TIMEOUT_SECONDS
    )
    max_body_bytes: int = Field(
        default=defaults.SERVICE_MAX_BODY_BYTES, ge=1, le=defaults.SERVICE_MAX_BODY_BYTES_LIMIT
    )
    replicas: int = Field(
        default=defaults.SERVICE_REPLICAS, ge=1, le=defaults.SERVICE_MAX_REPLICAS_LIMIT
    )
    max_replicas: int = Field(
        default=defaults.SERVICE_MAX_REPLICAS, ge=1, le=defaults.SERVICE_MAX_REPLICAS_LIMIT
    )
    cpu: str = defaults.SERVICE_CPU
    memory: str = defaults.SERVICE_MEMORY
    # Volumes the server reads (the model store); mounted read-only wherever it runs.
    mounts: tuple[Mount, ...] = ()
    env_vars: dict[str, str] = Field(default_factory=dict)
    # Prediction logging, drift checks and alerts (see `Monitoring`); None: not monitored.
    monitoring: Monitoring | None = None


# --- files and the project ---------------------------------------------------------------------


class LiminalFile(Model):
    """One `type: sub` liminal.yml after inheritance: what becomes DAGs, images and services."""

    name: str
    path: Path  # the liminal.yml itself, absolute
    owner: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    images: tuple[Image, ...] = ()
    executors: tuple[Executor, ...] = ()
    pipelines: tuple[Pipeline, ...] = ()
    services: tuple[Service, ...] = ()
    volumes: tuple[Volume, ...] = ()
    secrets: tuple[Secret, ...] = ()
    metrics: Metrics = Metrics()

    def image(self, tag: str) -> PythonImage | PythonServerImage | SparkImage:
        return next(i for i in self.images if i.image == tag)

    def executor(self, name: str) -> KubernetesExecutor | AirflowExecutor | EmrExecutor:
        return next(e for e in self.executors if e.executor == name)

    def volume(self, name: str) -> Volume:
        return next(v for v in self.volumes if v.volume == name)


class Project(Model):
    root: Path  # the folder the files were discovered in, absolute
    files: tuple[LiminalFile, ...]  # sub files only; parents are merged into them

    def pipelines(self) -> Iterator[tuple[LiminalFile, Pipeline]]:
        for f in self.files:
            for p in f.pipelines:
                yield f, p

    def services(self) -> Iterator[tuple[LiminalFile, Service]]:
        for f in self.files:
            for s in f.services:
                yield f, s

    def images(self) -> dict[str, PythonImage | PythonServerImage | SparkImage]:
        """Every image of the project by tag (a tag names one image across the project)."""
        return {i.image: i for f in self.files for i in f.images}

    def volumes(self) -> dict[str, Volume]:
        return {v.volume: v for f in self.files for v in f.volumes}

    def monitored_services(self) -> Iterator[tuple[LiminalFile, Service, Monitoring]]:
        """The services with a `monitoring` section, with their file and that section."""
        for f, s in self.services():
            if s.monitoring is not None:
                yield f, s, s.monitoring

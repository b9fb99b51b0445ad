"""Every default of the project, in one place.

Anything a user can leave out of liminal.yml or a stack's config gets its value here, so that the
DSL, the DAG builder, the server, the images and the AWS components agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

# --- DSL -------------------------------------------------------------------------------------
DSL_FILE_NAMES = ("liminal.yml", "liminal.yaml")
BASE_START_TASK = "start"
BASE_END_TASK = "end"
DEFAULT_K8S_EXECUTOR = "default_k8s"
DEFAULT_AIRFLOW_EXECUTOR = "airflow_executor"
# Which built-in executor runs a task type when the task names none.
DEFAULT_EXECUTOR_BY_TASK_TYPE = {
    "python": DEFAULT_K8S_EXECUTOR,
    "spark": DEFAULT_K8S_EXECUTOR,
    "job_start": DEFAULT_AIRFLOW_EXECUTOR,
    "job_end": DEFAULT_AIRFLOW_EXECUTOR,
    "create_cloudformation_stack": DEFAULT_AIRFLOW_EXECUTOR,
    "delete_cloudformation_stack": DEFAULT_AIRFLOW_EXECUTOR,
}
# Which task types each executor type can run.
RUNNABLE_TASK_TYPES = {
    "kubernetes": frozenset({"python", "spark"}),
    "airflow": frozenset(
        {"job_start", "job_end", "create_cloudformation_stack", "delete_cloudformation_stack"}
    ),
    "emr": frozenset({"spark"}),
}
DEFAULT_PYTHON_VERSION = "3.11"
# Bounds on what one liminal.yml may cost before it is read (dsl/yaml_source.py).
MAX_DSL_FILE_BYTES = 10 * 1024 * 1024
MAX_YAML_DEPTH = 200  # real files nest < 10 levels; libyaml's composer recurses in C
# `{{ }}` rendering: a rendered value longer than this is refused (like the alias limit), so
# `a: "{{a}}{{a}}"` is an instant error, not a doubling loop (dsl/placeholders.py).
MAX_RENDERED_CHARS = 100_000
# Discovery visits at most this many folders under a project (or a parent searched for `super`).
MAX_DISCOVERY_FOLDERS = 5_000
DEFAULT_EMR_CONN_ID = "aws_default"
DEFAULT_EMR_CLUSTER_STATES = ("RUNNING", "WAITING")

# --- Kubernetes ------------------------------------------------------------------------------
DEFAULT_NAMESPACE = "liminal"

# --- Serving ---------------------------------------------------------------------------------
SERVICE_PORT = 8080
# The image runs the server as a non-root user (IMAGE_UID): ports below 1024 are privileged.
SERVICE_PORT_RANGE = (1024, 65535)
SERVICE_MAX_WORKERS = 64
SERVICE_MAX_THREADS = 256
SERVICE_MAX_REPLICAS_LIMIT = 1000
SERVICE_MAX_TIMEOUT_SECONDS = 3600
SERVICE_MAX_BODY_BYTES_LIMIT = 1024 * 1024 * 1024
SERVICE_WORKERS = 2
# Model serving is CPU-bound: more threads per worker only queue on the GIL (measured on the iris
# /predict: 1 thread ~2.8x the requests/s of 4). Raise it for endpoints that wait on I/O.
SERVICE_THREADS = 1
SERVICE_TIMEOUT_SECONDS = 30
SERVICE_GRACEFUL_TIMEOUT_SECONDS = 20
SERVICE_MAX_BODY_BYTES = 1024 * 1024
# A client must send a whole request head (and a body of known length) within this many seconds
# of its first byte, else 408; slow and idle connections never hold a worker thread meanwhile.
SERVICE_HEADER_TIMEOUT_SECONDS = 10
# A request head over this many bytes is answered 431 (nginx's default limit is 4 x 8 KiB).
SERVICE_MAX_HEAD_BYTES = 64 * 1024
# Seconds a kept-alive connection may stay idle between requests.
SERVICE_KEEPALIVE_SECONDS = 5
# Open connections per worker process; beyond it the worker stops accepting until some close.
SERVICE_WORKER_CONNECTIONS = 1000
# Seconds a pod waits, once Kubernetes marks it terminating, before its server gets SIGTERM: the
# time for endpoint controllers, kube-proxy and load balancers to stop sending it new connections.
SERVICE_PRESTOP_SECONDS = 10
SERVICE_REPLICAS = 2
SERVICE_MAX_REPLICAS = 6
SERVICE_CPU = "250m"
SERVICE_MEMORY = "512Mi"
HEALTHCHECK_PATH = "/healthcheck"
READINESS_PATH = "/ready"
METRICS_PATH = "/metrics"

# --- Monitoring (a service's `monitoring` section) --------------------------------------------
# Where logs and drift reports go when `monitoring.path` is not set: under the service's first
# mount (the model store), per service.
MONITORING_DIR = "monitoring"
PREDICTIONS_DIR = "predictions"
DRIFT_DIR = "drift"
MODEL_VERSION_KEY = "version"
UNKNOWN_MODEL_VERSION = "unknown"
PREDICTION_LOG_SAMPLE_RATE = 1.0
PREDICTION_LOG_FIELDS: tuple[Literal["features", "response"], ...] = ("features", "response")
PREDICTION_LOG_MAX_BYTES = 10 * 1024 * 1024
PREDICTION_LOG_BACKUPS = 3
DRIFT_SCHEDULE = "@daily"
DRIFT_SHARE = 0.5
DRIFT_WINDOW_HOURS = 24.0
DRIFT_MAX_ROWS = 10_000
DRIFT_MIN_ROWS = 30
DRIFT_PIPELINE_SUFFIX = "_drift"  # the drift DAG of service S is `S_drift`
DRIFT_DAG_TAG = "drift"
DRIFT_START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # DAGs run without catch-up
DRIFT_TIMEOUT_MINUTES = 30
# The drift task's image on Kubernetes when `drift.image` is not set: this package with the
# `monitoring` extra; the deployment facts map the tag to its repository.
DRIFT_IMAGE = "liminal-drift"
# The server's side: a bounded queue per worker (a full one drops lines, counted), written in
# batches; distinct model-version labels per worker are capped (the rest count as `other`).
PREDICTION_LOG_QUEUE_SIZE = 10_000
PREDICTION_LOG_BATCH = 512
PREDICTION_LOG_RETENTION_DAYS = 7.0  # files of processes gone this long are removed
MONITORING_MAX_MODEL_VERSIONS = 20
OTHER_MODEL_VERSION = "other"
ALERT_ERROR_RATE = 0.05
ALERT_P99_LATENCY_MS = 500.0
ALERT_DRIFT_SHARE = 0.5
ALERT_PERIOD_SECONDS = 300
ALERT_EVALUATION_PERIODS = 1

# --- Images (liminal build, the registry component) ------------------------------------------
# Pinned by tag (Python minor version + Debian release); a digest pin is the next step.
PYTHON_BASE_IMAGE = "python:{python_version}-slim-bookworm"
# The server runs this package: python_server images need the Python it requires.
PYTHON_SERVER_MIN_VERSION = (3, 11)
# Python versions an image may name: those with a `python:<version>-slim-bookworm` image on
# Docker Hub (the official image's supported tags) that pip still installs into.
SUPPORTED_PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
# A pipeline's `timeout_minutes` (the DAG's dagrun_timeout): at most a year.
MAX_TIMEOUT_MINUTES = 366 * 24 * 60
IMAGE_USER = "liminal"
IMAGE_UID = 10001
IMAGE_APP_DIR = "/app"
IMAGE_LIMINAL_DIR = "/opt/liminal"
# Spark images: a Java runtime from the base image's Debian release, and pyspark (whose
# spark-submit runs the job) unless the image's requirements.txt names its own.
SPARK_JAVA_PACKAGE = "openjdk-17-jre-headless"
SPARK_PYSPARK_REQUIREMENT = "pyspark==3.5.3"

# --- Airflow ---------------------------------------------------------------------------------
AIRFLOW_VERSION = "3.0.6"
SUPPORTED_AIRFLOW_VERSIONS = ("2.11.0", "3.0.6")

# `.airflowignore` pattern syntax per Airflow major version: the default of `[core]
# dag_ignore_file_syntax` is "regexp" in Airflow 2 (added in 2.3.0) and "glob" from Airflow 3.0
# (Airflow configuration reference; config.yml of apache-airflow 2.11.0 and 3.0.6).
DAG_IGNORE_FILE_SYNTAX_BY_AIRFLOW_MAJOR = {"2": "regexp", "3": "glob"}
# Where the Amazon provider's operators take AWS credentials from: on MWAA, `aws_default` is the
# environment's execution role.
AWS_CONN_ID = "aws_default"

# --- Local runtime ---------------------------------------------------------------------------
LOCAL_STATE_DIR = ".liminal"
LOCAL_VOLUMES_DIR = "volumes"

# --- AWS stack settings (infra/stack_settings.py; config namespace `liminal`) -----------------
# The allowed-value lists (`*_CLASSES`, `*_STRATEGIES`, `*_EXPOSURES`, `*_MODES`) are the only
# declaration of each: the components check their arguments against them, the stack settings
# model its config keys, and the docs name them.
STACK_PROJECT = "examples/iris"
STACK_REGION = "us-east-1"
MWAA_ENVIRONMENT_CLASSES = (
    "mw1.micro",
    "mw1.small",
    "mw1.medium",
    "mw1.large",
    "mw1.xlarge",
    "mw1.2xlarge",
)
MWAA_ENVIRONMENT_CLASS = "mw1.small"
MWAA_MIN_WORKERS = 1
MWAA_MAX_WORKERS = 2
NODE_INSTANCE_TYPES = ("t3.large",)
NODE_MIN_SIZE = 1
NODE_DESIRED_SIZE = 2
NODE_MAX_SIZE = 3
# The newest version in Amazon EKS standard support (see EKS_KUBERNETES_CALENDAR below).
KUBERNETES_VERSION = "1.35"
NAT_STRATEGIES = ("single", "per_az")
NAT_STRATEGY = "single"
VPC_CIDR = "10.0.0.0/16"
SERVICE_EXPOSURES = ("cluster_ip", "internal_load_balancer", "public_load_balancer")
SERVICE_EXPOSURE = "cluster_ip"

# Amazon EKS Kubernetes release calendar, version -> (Amazon EKS release, end of standard
# support, end of extended support), dates in UTC. Source: "Understand the Kubernetes version
# lifecycle on EKS", https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
# (section "Amazon EKS Kubernetes release calendar"). Standard support lasts 14 months; extended
# support, billed per cluster hour from the first day past standard support, 12 more; on the end
# of extended support date EKS creates no new cluster of that version. Add each new version here.
EKS_KUBERNETES_CALENDAR: dict[str, tuple[dt.date, dt.date, dt.date]] = {
    "1.29": (dt.date(2024, 1, 23), dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    "1.30": (dt.date(2024, 5, 23), dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    "1.31": (dt.date(2024, 9, 26), dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    "1.32": (dt.date(2025, 1, 23), dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": (dt.date(2025, 5, 29), dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": (dt.date(2025, 10, 2), dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    "1.35": (dt.date(2026, 1, 27), dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
}

# --- AWS stack: registry, services, promotion -------------------------------------------------
ECR_KEEP_TAGGED_IMAGES = 30
ECR_UNTAGGED_EXPIRY_DAYS = 7
IMAGE_PLATFORM = "linux/amd64"
SERVICE_LB_PORT = 80
# Services behind a load balancer are the AWS Load Balancer Controller's (its Helm chart from
# AWS's eks-charts repository; chart 3.5.0 = controller v3.5.0, whose IAM policy
# liminal_pulumi.plans.load_balancer_controller carries). It provisions an NLB for Services of
# this class and ignores the rest; the legacy in-tree controller ignores Services with a class.
LB_CONTROLLER_CHART = "aws-load-balancer-controller"
LB_CONTROLLER_CHART_VERSION = "3.5.0"
LB_CONTROLLER_CHART_REPO = "https://aws.github.io/eks-charts"
LB_CONTROLLER_NAMESPACE = "kube-system"
LB_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
LB_CONTROLLER_REPLICAS = 2
LOAD_BALANCER_CLASS = "service.k8s.aws/nlb"
SERVICE_TARGET_CPU_UTILIZATION = 70
PROMOTION_IMAGE_REFS_OUTPUT = "imageRefs"
PROMOTION_REVISION_OUTPUT = "projectRevision"

# --- AWS components (infra/components, infra/plans) -------------------------------------------
# A platform's AWS names (EKS cluster, MWAA environment, ECR prefix) when no `environment` is
# given: `liminal-<stack>`.
PLATFORM_ENVIRONMENT = "liminal-{stack}"
AZ_COUNT = 2
FLOW_LOG_RETENTION_DAYS = 90
AIRFLOW_LOG_LEVEL = "INFO"
EKS_CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
NODE_DISK_SIZE_GIB = 50
NODE_METADATA_HOP_LIMIT = 2  # EKS's own default: pods on the host network still reach IMDSv2
EFS_CSI_ADDON = "aws-efs-csi-driver"
METRICS_SERVER_ADDON = "metrics-server"
EFS_ROOT_DIRECTORY = "/liminal"
EFS_POSIX_UID = 10001
EFS_POSIX_GID = 10001
EFS_ROOT_PERMISSIONS = "0750"
EFS_STORAGE_CLASS = "liminal-efs"
EFS_VOLUME_CAPACITY = "100Gi"  # EFS is elastic; Kubernetes only requires a figure
KMS_DELETION_WINDOW_DAYS = 30
MWAA_DAGS_FOLDER = "dags"
MWAA_REQUIREMENTS_KEY = "requirements.txt"
MWAA_LOCAL_DAGS_PATH = "/usr/local/airflow/dags"  # where MWAA syncs the dags folder
MWAA_LIMINAL_HOME = f"{MWAA_LOCAL_DAGS_PATH}/liminal"
MWAA_WEBSERVER_ACCESS_MODES = ("PRIVATE_ONLY", "PUBLIC_ONLY")
MWAA_WEBSERVER_ACCESS_MODE = "PRIVATE_ONLY"
# Python that MWAA runs for each Airflow version; it picks the constraints file of
# requirements.txt (constraints-<airflow>/constraints-<python>.txt). Source: Amazon MWAA FAQ,
# "What Python version can I use?" (https://docs.aws.amazon.com/mwaa/latest/userguide/mwaa-faqs.html)
# and "Apache Airflow versions on Amazon MWAA" (.../userguide/airflow-versions.html).
MWAA_PYTHON_BY_AIRFLOW_VERSION = {"2.10.3": "3.11", "2.11.0": "3.12", "3.0.6": "3.12"}
# What the DAG loader needs beyond MWAA's image; resolved under the version's constraints.
MWAA_EXTRA_REQUIREMENTS = ("apache-airflow-providers-cncf-kubernetes",)
AIRFLOW_CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/"
    "constraints-{airflow_version}/constraints-{python_version}.txt"
)

# --- Monitoring on AWS (infra/plans/monitoring_plan.py, the Monitoring component) -------------
# The Kubernetes service account (namespace DEFAULT_NAMESPACE) the drift task's pod runs as.
DRIFT_SERVICE_ACCOUNT = "liminal-drift"
# How often the managed Prometheus scraper reads each server pod's /metrics.
SCRAPE_INTERVAL_SECONDS = 30
# The Kubernetes user name the scraper's role is given in the cluster (an EKS access entry).
SCRAPER_KUBERNETES_USER = "liminal-aps-collector"

# --- DAGs (loader, builder, local run) --------------------------------------------------------
DAG_TAG = "liminal"
DEFAULT_DAG_OWNER = "airflow"
# A liminal task that needs two Airflow tasks (EMR step, CloudFormation stack) waits in this one.
SENSOR_TASK_SUFFIX = "_wait"
# Written beside a project's liminal.yml files when it is deployed; read by the DAG loader.
COMPILED_FILE_NAME = "liminal.compiled.json"
# Where the loader looks for projects when neither LIMINAL_HOME nor [core] liminal_home is set:
# this folder beside the loader, in the DAGs folder.
LIMINAL_HOME_DIR = "liminal"
LIMINAL_HOME_ENV = "LIMINAL_HOME"
CLOUDWATCH_DIMENSION = "ApplicationName"
# The `metrics.backends` value that sends job (and drift) metrics to CloudWatch.
CLOUDWATCH_BACKEND = "cloudwatch"
# Job metrics are best effort: a few seconds at most before the task goes on without them.
METRICS_TIMEOUT_SECONDS = 5
METRICS_ATTEMPTS = 2
LOCAL_AIRFLOW_DIR = "airflow"  # under LOCAL_STATE_DIR: the local run's AIRFLOW_HOME
LOCAL_LOG_TAIL_LINES = 40
# A task's output on the terminal: one batch per interval, of at most this many (newest) lines;
# every line goes to the task's log file (`.liminal/logs/<pipeline>/<task>.log`).
LOCAL_OUTPUT_FLUSH_SECONDS = 0.1
LOCAL_TERMINAL_BATCH_LINES = 40
LOCAL_TASK_LOGS_DIR = "logs"  # under LOCAL_STATE_DIR
# One `liminal run` per project at a time: it holds an flock on this file under LOCAL_STATE_DIR.
LOCAL_RUN_LOCK_FILE = "run.lock"

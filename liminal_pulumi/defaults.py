"""Every default of the project, in one place.

Anything a user can leave out of liminal.yml or a stack's config gets its value here, so that the
DSL, the DAG builder, the server, the images and the AWS components agree.
"""

from __future__ import annotations

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
DEFAULT_EMR_CONN_ID = "aws_default"
DEFAULT_EMR_CLUSTER_STATES = ("RUNNING", "WAITING")

# --- Kubernetes ------------------------------------------------------------------------------
DEFAULT_NAMESPACE = "liminal"

# --- Serving ---------------------------------------------------------------------------------
SERVICE_PORT = 8080
SERVICE_WORKERS = 2
SERVICE_THREADS = 4
SERVICE_TIMEOUT_SECONDS = 30
SERVICE_GRACEFUL_TIMEOUT_SECONDS = 20
SERVICE_MAX_BODY_BYTES = 1024 * 1024
SERVICE_REPLICAS = 2
SERVICE_MAX_REPLICAS = 6
SERVICE_CPU = "250m"
SERVICE_MEMORY = "512Mi"
HEALTHCHECK_PATH = "/healthcheck"
READINESS_PATH = "/ready"
METRICS_PATH = "/metrics"

# --- Airflow ---------------------------------------------------------------------------------
AIRFLOW_VERSION = "3.0.6"
SUPPORTED_AIRFLOW_VERSIONS = ("2.11.0", "3.0.6")

# --- Local runtime ---------------------------------------------------------------------------
LOCAL_STATE_DIR = ".liminal"
LOCAL_VOLUMES_DIR = "volumes"

"""How an EksPodOperator task reaches its cluster, run in a given Airflow venv (2.11 or 3.0):

    python eks_auth_probe.py CLUSTER REGION NAMESPACE

Builds the kubeconfig the operator builds when it runs (EksHook, credentials of the `aws_default`
connection: the execution role on MWAA), then lets the Kubernetes client load it, which runs its
exec plugin and yields the bearer token, and prints what came out as JSON. The EKS API
(DescribeCluster) is whatever AWS_ENDPOINT_URL points at (a moto server in the tests).
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import urllib.parse


def main() -> None:
    cluster, region, namespace = sys.argv[1:4]
    import airflow
    from airflow.providers.amazon.aws.hooks.eks import EksHook
    from airflow.providers.amazon.aws.operators.eks import EksPodOperator
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes import client, config

    operator = EksPodOperator(
        task_id="probe", cluster_name=cluster, region=region, namespace=namespace, image="x"
    )
    hook = EksHook(aws_conn_id=operator.aws_conn_id, region_name=operator.region)
    with hook.generate_config_file_with_credentials(
        eks_cluster_name=cluster, pod_namespace=namespace
    ) as (config_file, _credentials):
        with open(config_file) as handle:
            kubeconfig = handle.read()
        configuration = client.Configuration()
        config.load_kube_config(config_file=config_file, client_configuration=configuration)
        # What every API request sends: the token the exec plugin returned (the client's key
        # is `BearerToken` in kubernetes>=30, `authorization` before).
        keys = configuration.api_key
        bearer = keys.get("BearerToken") or keys.get("authorization") or ""
    token = bearer.removeprefix("Bearer ")
    encoded = token.removeprefix("k8s-aws-v1.")
    presigned = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(presigned).query)
    out = {
        "airflow": airflow.__version__,
        "is_pod_operator": isinstance(operator, KubernetesPodOperator),
        "aws_conn_id": operator.aws_conn_id,
        "aws_cli_on_path": shutil.which("aws") is not None,
        "host": configuration.host,
        "token_prefix": token[: len("k8s-aws-v1.")],
        "sts_action": query.get("Action", [""])[0],
        "signed_headers": query.get("X-Amz-SignedHeaders", [""])[0],
        "kubeconfig_mentions_aws_cli": "aws eks get-token" in kubeconfig,
    }
    print("PROBE" + json.dumps(out))


if __name__ == "__main__":
    main()

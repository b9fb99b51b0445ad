import pytest

from liminal_pulumi.plans import iam_policies as p

BUCKET = "arn:aws:s3:::airflow-dev-abc"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/k-1"
CLUSTER = "arn:aws:eks:eu-west-1:111122223333:cluster/liminal-dev"


@pytest.fixture
def execution_policy():
    return p.mwaa_execution_policy(
        partition="aws",
        region="eu-west-1",
        account_id="111122223333",
        environment_name="liminal-dev",
        bucket_arn=BUCKET,
        kms_key_arn=KEY,
    )


def statements_with(document, action):
    return [
        s
        for s in document["Statement"]
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]


def resources(statement):
    named = statement["Resource"]
    return [named] if isinstance(named, str) else named


def test_execution_policies_allow_no_wildcard_action(execution_policy):
    for document in (execution_policy, p.mwaa_cluster_policy(CLUSTER)):
        for action in p.all_actions(document):
            assert "*" not in action, action


def test_execution_policy_reads_only_this_bucket(execution_policy):
    (read,) = statements_with(execution_policy, "s3:GetObject")
    assert read["Effect"] == "Allow"
    assert resources(read) == [BUCKET, f"{BUCKET}/*"]


def test_execution_policy_scopes_logs_queues_metrics_and_key(execution_policy):
    (logs,) = statements_with(execution_policy, "logs:PutLogEvents")
    assert all(
        r.startswith("arn:aws:logs:eu-west-1:111122223333:log-group:airflow-liminal-dev-")
        for r in resources(logs)
    )
    (queues,) = statements_with(execution_policy, "sqs:SendMessage")
    assert resources(queues) == ["arn:aws:sqs:eu-west-1:*:airflow-celery-*"]
    (metrics,) = statements_with(execution_policy, "airflow:PublishMetrics")
    assert resources(metrics) == ["arn:aws:airflow:eu-west-1:111122223333:environment/liminal-dev"]
    (key,) = statements_with(execution_policy, "kms:Decrypt")
    assert resources(key) == [KEY]
    assert key["Condition"]["StringLike"]["kms:ViaService"] == [
        "sqs.eu-west-1.amazonaws.com",
        "s3.eu-west-1.amazonaws.com",
    ]


def test_every_star_resource_is_an_action_aws_cannot_scope(execution_policy):
    unscopable = {
        "s3:GetAccountPublicAccessBlock",
        "logs:DescribeLogGroups",
        "cloudwatch:PutMetricData",
    }
    for statement in execution_policy["Statement"]:
        if "*" in resources(statement):
            assert set(p.all_actions({"Statement": [statement]})) <= unscopable


def test_cluster_policy_describes_only_this_cluster():
    document = p.mwaa_cluster_policy(CLUSTER)
    assert p.all_actions(document) == ["eks:DescribeCluster"]
    assert document["Statement"][0]["Resource"] == CLUSTER


def test_mwaa_trust_names_both_airflow_principals():
    (statement,) = p.mwaa_execution_trust_policy()["Statement"]
    assert statement["Principal"]["Service"] == [
        "airflow-env.amazonaws.com",
        "airflow.amazonaws.com",
    ]
    assert statement["Action"] == "sts:AssumeRole"


def test_efs_csi_trust_limits_to_the_drivers_service_accounts():
    url = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    arn = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    (statement,) = p.efs_csi_irsa_trust_policy(arn, url)["Statement"]
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    assert statement["Principal"] == {"Federated": arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringLike"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:efs-csi-*"
    }
    assert statement["Condition"]["StringEquals"] == {f"{issuer}:aud": "sts.amazonaws.com"}


def test_bucket_policy_denies_every_request_without_tls():
    (statement,) = p.bucket_tls_only_policy(BUCKET)["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert resources(statement) == [BUCKET, f"{BUCKET}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_file_system_policy_denies_without_tls_and_never_grants_root():
    fs = "arn:aws:elasticfilesystem:eu-west-1:111122223333:file-system/fs-1"
    document = p.efs_tls_only_policy(fs)
    deny = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Resource"] == fs
    assert "elasticfilesystem:ClientRootAccess" not in p.all_actions(document)
    for allow in (s for s in document["Statement"] if s["Effect"] == "Allow"):
        assert allow["Condition"]["Bool"]["elasticfilesystem:AccessedViaMountTarget"] == "true"


def test_flow_log_role_writes_only_its_log_group():
    group = "arn:aws:logs:eu-west-1:111122223333:log-group:flow"
    (statement,) = p.flow_logs_policy(group)["Statement"]
    assert resources(statement) == [group, f"{group}:*"]
    trust = p.flow_logs_trust_policy("111122223333")["Statement"][0]
    assert trust["Principal"]["Service"] == ["vpc-flow-logs.amazonaws.com"]
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "111122223333"


def test_logs_key_policy_lets_cloudwatch_logs_use_the_key_for_this_account_only():
    document = p.logs_kms_key_policy(partition="aws", region="eu-west-1", account_id="1111")
    (logs,) = [s for s in document["Statement"] if "Service" in s["Principal"]]
    assert logs["Principal"]["Service"] == "logs.eu-west-1.amazonaws.com"
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:1111:*"
    }


# Actions that take no resource ARN, only `Resource: "*"` (Service Authorization Reference):
# a statement scoping them to ARNs matches no request.
STAR_ONLY_ACTIONS = {
    "s3:ListAllMyBuckets",
    "s3:GetAccountPublicAccessBlock",
    "cloudwatch:PutMetricData",
    "logs:DescribeLogGroups",
}


def test_execution_policy_has_no_statement_that_cannot_match(execution_policy):
    assert not statements_with(execution_policy, "s3:ListAllMyBuckets")
    assert all(s["Effect"] == "Allow" for s in execution_policy["Statement"])
    for statement in execution_policy["Statement"]:
        named = statement["Action"]
        actions = {named} if isinstance(named, str) else set(named)
        if actions & STAR_ONLY_ACTIONS:
            assert statement["Resource"] == "*", statement

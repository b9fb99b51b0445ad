"""The pack as the Pulumi CLI runs it: `python policy/__main__.py` serves the analyzer protocol
on a local port; the engine asks it what it enforces and hands it each resource."""

import os
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from delivery_paths import POLICY_DIR
from google.protobuf import empty_pb2, struct_pb2
from liminal_policy.pack import policy_names
from liminal_policy.resources import ECR_REPOSITORY
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc


@pytest.fixture(params=["myorg/liminal/prod", "dev"])
def analyzer(request) -> Iterator[tuple[str, analyzer_pb2_grpc.AnalyzerStub]]:
    env = {**os.environ, "PULUMI_STACK": request.param}
    env.pop("LIMINAL_POLICY_ENFORCEMENT", None)
    process = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(process.stdout.readline())  # the pack announces its port, then serves
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield request.param, analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_pack_serves_every_policy_at_the_stack_level(analyzer):
    stack, stub = analyzer
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "liminal-aws-baseline"
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert sorted(levels) == sorted(policy_names())
    if stack.endswith("prod"):
        assert set(levels.values()) == {analyzer_pb2.MANDATORY}
    else:
        assert analyzer_pb2.MANDATORY not in set(levels.values())


def test_pack_reports_a_violation_for_a_resource(analyzer):
    stack, stub = analyzer
    properties = struct_pb2.Struct()
    properties.update({"name": "app", "imageTagMutability": "MUTABLE"})
    request = analyzer_pb2.AnalyzeRequest(
        type=ECR_REPOSITORY,
        properties=properties,
        urn=f"urn:pulumi:{stack}::liminal::{ECR_REPOSITORY}::app",
        name="app",
        options=analyzer_pb2.AnalyzerResourceOptions(protect=True),
    )
    response = stub.Analyze(request, timeout=30)
    messages = [d.message for d in response.diagnostics if d.policyName]
    assert any("IMMUTABLE" in message for message in messages)
    assert any("scanOnPush" in message for message in messages)

"""Plan diffs, value by value, in text and JSON; plans read back from JSON (no program run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from liminal_pulumi.offline_plan import (
    DIFF_VALUE_CHARS,
    Plan,
    PlanError,
    PlannedResource,
    diff_plans,
    read_project,
    render_diff,
    stack_config,
)

ENV = "urn:pulumi:dev::p::aws:mwaa/environment:Environment::airflow"
POD = "urn:pulumi:dev::p::kubernetes:apps/v1:Deployment::server"


def resource(urn: str, inputs: dict[str, Any], protect: bool = False) -> PlannedResource:
    return PlannedResource(
        urn=urn,
        type=urn.split("::")[2],
        name=urn.rsplit("::", 1)[1],
        parent=None,
        custom=True,
        protect=protect,
        retain_on_delete=False,
        dependencies=(),
        inputs=inputs,
    )


def plan(*resources: PlannedResource) -> Plan:
    return Plan(stack="dev", project="p", settings={}, resources=list(resources))


def pod(image: str, *env: str) -> dict[str, Any]:
    container = {"image": image, "env": [{"name": e} for e in env]}
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


OLD = plan(
    resource(ENV, {"maxWorkers": 2, "name": "flows"}),
    resource(POD, pod("repo/app:1", "A")),
    resource("urn:pulumi:dev::p::aws:s3/bucket:Bucket::gone", {}),
)
NEW = plan(
    resource(ENV, {"maxWorkers": 3, "name": "flows", "tags": {"team": "ml"}}, protect=True),
    resource(POD, pod("repo/app:2", "A", "B")),
    resource("urn:pulumi:dev::p::aws:s3/bucket:Bucket::new", {}),
)


def test_changes_list_each_differing_value_with_old_and_new() -> None:
    diff = diff_plans(OLD, NEW)
    assert diff.added == ["urn:pulumi:dev::p::aws:s3/bucket:Bucket::new"]
    assert diff.removed == ["urn:pulumi:dev::p::aws:s3/bucket:Bucket::gone"]
    changes = json.loads(diff.to_json())["changed"]
    assert changes[ENV] == {
        "maxWorkers": {"old": 2, "new": 3},
        "tags": {"new": {"team": "ml"}},  # added: no old value
        "[protect]": {"old": False, "new": True},
    }
    assert changes[POD] == {
        "spec.template.spec.containers[0].image": {"old": "repo/app:1", "new": "repo/app:2"},
        "spec.template.spec.containers[0].env[1]": {"new": {"name": "B"}},
    }


def test_text_diff_shows_old_and_new_values() -> None:
    lines = render_diff(diff_plans(OLD, NEW))
    assert f"~ {ENV}" in lines
    assert "    maxWorkers: 2 -> 3" in lines
    assert '    tags: (absent) -> {"team": "ml"}' in lines
    assert "    [protect]: false -> true" in lines
    assert lines[-1] == "1 to add, 2 to change, 1 to remove"


def test_long_values_are_shortened_in_text_only() -> None:
    long_value = "x" * 1000
    diff = diff_plans(
        plan(resource(ENV, {"policy": "a"})), plan(resource(ENV, {"policy": long_value}))
    )
    (line,) = [line for line in render_diff(diff) if "policy" in line]
    assert len(line) < DIFF_VALUE_CHARS + 40 and "(1002 chars)" in line
    assert json.loads(diff.to_json())["changed"][ENV]["policy"]["new"] == long_value


def test_a_type_change_is_a_change_and_equal_plans_are_empty() -> None:
    assert diff_plans(OLD, OLD).empty
    diff = diff_plans(plan(resource(ENV, {"port": "80"})), plan(resource(ENV, {"port": 80})))
    assert json.loads(diff.to_json())["changed"][ENV] == {"port": {"old": "80", "new": 80}}


def test_plans_written_with_floats_read_back_with_ints() -> None:
    """Plans written before the JSON-ints fix (`"maxWorkers": 2.0`) diff cleanly with new ones."""
    text = OLD.to_json().replace('"maxWorkers": 2', '"maxWorkers": 2.0')
    assert '"maxWorkers": 2.0' in text
    assert diff_plans(Plan.from_json(text), OLD).empty


def test_stack_config_in_engine_form_with_project_defaults(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: shop\nruntime: python\nconfig:\n"
        "  size:\n    type: integer\n    default: 3\n"
        "  aws:region: eu-west-1\n"
        "  owner:\n    type: string\n"
    )
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  shop:size: 5\n  tags: [a, b]\n  password:\n    secure: AAABAxyz\n"
    )
    project = read_project(tmp_path)
    assert project.main == tmp_path and project.stack_config_dir == tmp_path
    assert stack_config(project, "dev") == {
        "shop:size": "5",
        "aws:region": "eu-west-1",
        "shop:tags": '["a", "b"]',
        "shop:password": "[secret]",
    }


@pytest.mark.parametrize(
    ("pulumi_yaml", "message"),
    [
        ("name: shop\nruntime: nodejs\n", "runtime 'nodejs'"),
        ("runtime: python\n", "needs a `name`"),
        ("name: shop\nruntime: python\nmain: src/\n", "main: "),
        ("name: [\n", "not valid YAML"),
    ],
)
def test_a_bad_project_file_is_one_clear_error(
    tmp_path: Path, pulumi_yaml: str, message: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text(pulumi_yaml)
    with pytest.raises(PlanError, match="Pulumi.yaml") as caught:
        read_project(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)

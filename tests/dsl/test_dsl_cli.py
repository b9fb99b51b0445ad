"""`liminal validate` and `liminal schema` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml
from dsl_helpers import FIXTURES, IRIS, MINIMAL, write_tree
from typer.testing import CliRunner

from liminal_pulumi.cli import app

runner = CliRunner()


def test_validate_summarises_a_valid_project() -> None:
    result = runner.invoke(app, ["validate", str(IRIS)])
    assert result.exit_code == 0, result.output
    assert "1 file(s), 1 pipeline(s), 4 task(s), 1 image(s), 1 service(s)" in result.output
    assert "start -> train -> validate -> end" in result.output


def test_validate_json_summary() -> None:
    result = runner.invoke(app, ["validate", str(FIXTURES / "inherited"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["summary"]["counts"]["files"] == 2
    assert {d["severity"] for d in report["diagnostics"]} == {"warning"}


def test_validate_failure_exits_2_with_every_located_error(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/liminal.yml": MINIMAL.replace(
                "type: python\n        image", "type: pyton\n        image"
            ),
            "b/liminal.yml": "name: b\npipelines: [\n",
        },
    )
    # A real process: the user sees no traceback, only located errors, and status 2.
    result = subprocess.run(
        [sys.executable, "-m", "liminal_pulumi.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 2
    assert lines[0].startswith(f"{(tmp_path / 'a/liminal.yml').resolve()}:")
    assert lines[1].startswith(f"{(tmp_path / 'b/liminal.yml').resolve()}:3:1: error:")


def test_validate_json_failure(tmp_path: Path) -> None:
    write_tree(tmp_path, {"liminal.yml": "name: a\npipelnes: []\n"})
    result = runner.invoke(app, ["validate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["ok"] is False
    (diagnostic,) = report["diagnostics"]
    assert diagnostic["line"] == 2 and diagnostic["column"] == 1
    assert diagnostic["key_path"] == "pipelnes"
    assert diagnostic["suggestion"] == "pipelines"


def test_validate_missing_path_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_schema_is_valid_json_schema_accepting_real_files_and_rejecting_typos() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for file in [IRIS / "liminal.yml", *sorted((FIXTURES / "inherited").rglob("liminal.yml"))]:
        # As editors see it: YAML dates are text in JSON.
        document = json.loads(json.dumps(yaml.safe_load(file.read_text()), default=str))
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], (file, errors)
    typo = yaml.safe_load(MINIMAL.replace("cmd: echo hi", "cmd: echo hi\n        imge: x"))
    assert any("imge" in e.message for e in validator.iter_errors(typo))
    wrong_type = yaml.safe_load(
        MINIMAL.replace("type: python\n        image", "type: x\n        image")
    )
    assert list(validator.iter_errors(wrong_type))

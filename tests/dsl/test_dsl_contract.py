"""`liminal validate` is the contract: what it accepts, Airflow, Kubernetes, Docker and the
scheduler accept. Each case of issue 10 (and issue 11's names in paths) is a test here; the
whole kind is covered by tests/dags/test_dags_contract.py (every valid project through real
DagBags and the plan, and value mutations)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dsl_helpers import MINIMAL, errors_of, find, load, load_file, write_tree
from typer.testing import CliRunner

from liminal_pulumi.cli import app
from liminal_pulumi.dsl import discovery, loader
from liminal_pulumi.dsl.diagnostics import Diagnostic, LiminalConfigError
from liminal_pulumi.dsl.loader import load_project, load_project_report, load_what_loads

runner = CliRunner()


def pipeline_with(extra: str, name: str = "p", task: str = "t") -> str:
    """MINIMAL with `extra` lines added to its pipeline (indented as pipeline keys)."""
    lines = "".join(f"    {line}\n" for line in extra.strip("\n").splitlines())
    return (
        MINIMAL.replace("  - pipeline: p\n", f"  - pipeline: {name}\n" + lines)
        .replace("      - task: t\n", f"      - task: {task}\n")
        .lstrip("\n")
    )


# --- Airflow ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("'my pipeline'", "holds ' '"),
        ("'" + "p" * 300 + "'", "300 characters long"),
        ("''", "it is empty"),
        ("'..'", "parent folder"),
    ],
)
def test_pipeline_id_follows_airflow_rules(tmp_path: Path, name: str, words: str) -> None:
    error = find(errors_of(tmp_path, {"liminal.yml": pipeline_with("", name=name)}), words)
    assert (error.line, error.key_path) == (3, "pipelines[0].pipeline")
    assert "dag_id" in error.message


def test_task_id_follows_airflow_rules(tmp_path: Path) -> None:
    error = find(
        errors_of(tmp_path, {"liminal.yml": pipeline_with("", task="'train model'")}), "' '"
    )
    assert error.key_path == "pipelines[0].tasks[0].task"
    assert "task_id" in error.message and "e.g. `train_model`" in error.message


def test_a_task_named_like_another_tasks_sensor_is_an_error(tmp_path: Path) -> None:
    text = pipeline_with("").replace(
        "      - task: t\n",
        "      - task: stack\n        type: create_cloudformation_stack\n"
        "        stack_name: s\n"
        "      - task: stack_wait\n        type: delete_cloudformation_stack\n"
        "        stack_name: s\n      - task: t\n",
    )
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "both become the Airflow task")
    assert "`stack_wait`" in error.message


# --- pipeline keys: DAG arguments, operator arguments, neither -----------------------------------


def test_retry_delay_in_words_is_an_error_saying_how_to_write_it(tmp_path: Path) -> None:
    error = find(
        errors_of(tmp_path, {"liminal.yml": pipeline_with("retry_delay: 5 minutes")}),
        "retry_delay",
    )
    assert error.key_path == "pipelines[0].retry_delay" and error.line == 4
    assert "number of seconds, e.g. 300" in error.message
    assert "the text `5 minutes`" in error.message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("retries: three", "a whole number"),
        ("retries: -1", "from 0"),
        ("email_on_failure: maybe", "true or false"),
        ("email: [not-an-address]", "e-mail address"),
        ("trigger_rule: all_sucess", "one of all_done"),
        ("on_failure_callback: my.module.fn", "Python callable"),
        ("priority_weight: 99999999999", "whole number from"),
        ("max_active_runs: 0", "from 1"),
        ("catchup: 'yes'", "true or false"),
        ("tags: [a, 12]", "list of texts"),
        ("dagrun_timeout: 60", "timeout_minutes"),
        ("resources: {cpu: 1}", "cpus, disk, gpus, ram"),
    ],
)
def test_airflow_arguments_of_the_wrong_type_are_errors(
    tmp_path: Path, line: str, words: str
) -> None:
    key = line.split(":")[0]
    error = find(errors_of(tmp_path, {"liminal.yml": pipeline_with(line)}), words)
    assert error.key_path == f"pipelines[0].{key}"
    assert error.line == 4


def test_dag_arguments_go_to_the_dag_and_operator_arguments_to_default_args(
    tmp_path: Path,
) -> None:
    from liminal_pulumi.airflow.dag_plan import plan_file
    from liminal_pulumi.airflow.deployment import DeploymentFacts

    file = load_file(
        tmp_path,
        pipeline_with(
            """
catchup: true
max_active_runs: 1
max_active_tasks: 4
tags: [nightly, ml]
description: Trains the model
doc_md: "# Train"
end_date: 2030-01-01
retries: 2
retry_delay: 300
execution_timeout: 1800
email: ops@example.com
"""
        ),
    )
    (plan,) = plan_file(file, DeploymentFacts.local())
    assert plan.dag_args == {
        "catchup": True,
        "max_active_runs": 1,
        "max_active_tasks": 4,
        "doc_md": "# Train",
        "end_date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    }
    assert plan.description == "Trains the model"
    assert plan.tags == ("liminal", "app", "nightly", "ml")
    assert plan.default_args["retry_delay"] == dt.timedelta(seconds=300)
    assert plan.default_args["execution_timeout"] == dt.timedelta(minutes=30)
    assert plan.default_args["retries"] == 2
    assert plan.default_args["email"] == "ops@example.com"
    assert not {"catchup", "max_active_runs", "tags", "description"} & set(plan.default_args)


def test_a_key_of_neither_dag_nor_operator_is_a_located_warning(tmp_path: Path) -> None:
    _, warnings = load(tmp_path, {"liminal.yml": pipeline_with("my_own_setting: 3")})
    warning = find(warnings, "neither a liminal pipeline key nor an argument")
    assert warning.key_path == "pipelines[0].my_own_setting" and warning.line == 4


def test_a_key_of_one_airflow_version_only_is_a_warning(tmp_path: Path) -> None:
    project, warnings = load(tmp_path, {"liminal.yml": pipeline_with("fail_stop: true")})
    assert "Airflow 2 only" in find(warnings, "fail_stop").message
    (pipeline,) = project.files[0].pipelines
    assert "fail_stop" not in pipeline.dag_args | pipeline.default_args


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e23", "1.0e+23", "600000"])
def test_timeout_minutes_has_sane_bounds(tmp_path: Path, value: str) -> None:
    text = MINIMAL.replace("timeout_minutes: 10", f"timeout_minutes: {value}")
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "")
    assert error.key_path == "pipelines[0].timeout_minutes"
    assert error.line == 5


SERVICE = """
services:
  - service: {name}
    image: srv{extra}
"""
SERVER_IMAGE = """
  - image: srv
    type: python_server
    endpoints:
      - endpoint: /predict
        module: serve
        function: predict
"""


def with_services(*services: tuple[str, str]) -> str:
    text = MINIMAL + SERVER_IMAGE.lstrip("\n")
    blocks = [SERVICE.format(name=n, extra=e).split("services:\n")[1] for n, e in services]
    return text + "services:\n" + "".join(blocks)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("\n    port: 80900", "port", "from 1024 to 65535"),
        ("\n    port: 80", "port", "non-root"),
        ("\n    cpu: lots", "cpu", "Kubernetes quantity"),
        ("\n    memory: 512MB", "memory", "Kubernetes quantity"),
        ("\n    workers: 100000", "workers", "less than or equal"),
        ("\n    replicas: 5\n    max_replicas: 2", "max_replicas", "below `replicas`"),
    ],
)
def test_service_values_are_checked_for_their_consumers(
    tmp_path: Path, extra: str, key: str, words: str
) -> None:
    error = find(errors_of(tmp_path, {"liminal.yml": with_services(("api", extra))}), words)
    assert error.key_path == f"services[0].{key}"


# --- YAML 1.1 implicit typing --------------------------------------------------------------------


def test_env_vars_pass_the_text_the_user_wrote(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "        cmd: echo hi\n",
        "        cmd: echo hi\n"
        "        env_vars: {COUNTRY: NO, USE_GPU: off, MODEL_VERSION: 1.10, FILE_MODE: 0755,"
        " RATIO: 0.50, EMPTY: ~, FLAG: true}\n",
    )
    file = load_file(tmp_path, text)
    task = file.pipelines[0].tasks[1]
    assert task.env_vars == {  # type: ignore[union-attr]
        "COUNTRY": "NO",
        "USE_GPU": "off",
        "MODEL_VERSION": "1.10",
        "FILE_MODE": "0755",
        "RATIO": "0.50",
        "EMPTY": "",
        "FLAG": "true",
    }


def test_a_misread_variable_is_a_warning_with_the_quoted_form(tmp_path: Path) -> None:
    text = "variables:\n  model_version: 1.10\n" + MINIMAL.lstrip("\n")
    _, warnings = load(tmp_path, {"liminal.yml": text})
    warning = find(warnings, "model_version")
    assert 'write `"1.10"` (quoted)' in warning.message and warning.line == 2


def test_python_version_is_compared_as_written(tmp_path: Path) -> None:
    text = MINIMAL + "    python_version: 3.10\n"
    file = load_file(tmp_path, text)
    assert file.images[0].python_version == "3.10"


@pytest.mark.parametrize(
    ("version", "image_type", "words"),
    [
        ("3.1", "python", "is not supported"),
        ("2.7", "python", "is not supported"),
        ("three", "python", "is not supported"),
        ("3.9", "python_server", "too old for the model server"),
    ],
)
def test_unsupported_python_version_is_a_located_error(
    tmp_path: Path, version: str, image_type: str, words: str
) -> None:
    text = MINIMAL.replace("    type: python\n", f"    type: {image_type}\n") + (
        f"    python_version: {version}\n"
    )
    error = find(errors_of(tmp_path, {"liminal.yml": text}), words)
    assert error.key_path == "images[0].python_version" and error.line == 14


def test_plan_of_a_python_server_on_an_old_python_is_a_located_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    write_tree(
        tmp_path,
        {
            "liminal.yml": with_services(("api", "")).replace(
                "type: python_server\n", "type: python_server\n    python_version: '3.10'\n"
            )
        },
    )
    result = runner.invoke(app, ["plan", str(tmp_path), "--stack", "dev"])
    assert result.exit_code == 2
    assert "too old for the model server" in result.output
    assert "Traceback" not in result.output


# --- names after the deployment's transformation -------------------------------------------------


def test_services_that_become_one_kubernetes_name_collide(tmp_path: Path) -> None:
    error = find(
        errors_of(
            tmp_path, {"liminal.yml": with_services(("fraud_scorer", ""), ("fraud-scorer", ""))}
        ),
        "both become the Kubernetes name `fraud-scorer`",
    )
    assert error.key_path == "services[1].service" and error.scope == "deployment"


def test_long_service_names_cut_to_63_characters_collide(tmp_path: Path) -> None:
    first, second = "s" * 70 + "_a", "s" * 70 + "_b"
    error = find(
        errors_of(tmp_path, {"liminal.yml": with_services((first, ""), (second, ""))}),
        "both become the Kubernetes name",
    )
    assert "s" * 63 in error.message


def test_images_that_become_one_ecr_repository_collide(tmp_path: Path) -> None:
    text = MINIMAL + "  - image: IMG\n    type: python\n"
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "ECR repository")
    assert error.key_path == "images[1].image"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("secrets:\n  - secret: My_Secret\n", "not a Kubernetes Secret name"),
        ("volumes:\n  - volume: data\n    claim_name: Data_Claim\n", "PersistentVolumeClaim"),
        ("images:\n  - image: 'app:-bad'\n    type: python\n", "not a Docker tag"),
    ],
)
def test_kubernetes_and_docker_names_are_checked(tmp_path: Path, section: str, words: str) -> None:
    text = (
        MINIMAL.replace("images:\n", section + "images:\n", 1)
        if "images" not in section
        else (MINIMAL + section.split("images:\n")[1])
    )
    find(errors_of(tmp_path, {"liminal.yml": text}), words)


# --- issue 11: names used in paths stay inside their folder --------------------------------------


@pytest.mark.parametrize(
    ("section", "key_path", "words"),
    [
        ("volumes:\n  - volume: ../escape\n", "volumes[0].volume", "holds `/`"),
        ("volumes:\n  - volume: '..'\n", "volumes[0].volume", "parent folder"),
        ("secrets:\n  - secret: a/b\n", "secrets[0].secret", "holds `/`"),
    ],
)
def test_names_used_in_paths_are_single_names(
    tmp_path: Path, section: str, key_path: str, words: str
) -> None:
    text = MINIMAL.replace("images:\n", section + "images:\n", 1)
    error = find(errors_of(tmp_path, {"liminal.yml": text}), words)
    assert error.key_path == key_path


@pytest.mark.parametrize("sub_path", ["/sub_escape", "../../escape", "a/../../b"])
def test_sub_path_stays_inside_its_volume(tmp_path: Path, sub_path: str) -> None:
    text = MINIMAL.replace(
        "        cmd: echo hi\n",
        f"        cmd: echo hi\n        mounts:\n          - volume: data\n"
        f"            path: /mnt/data\n            sub_path: '{sub_path}'\n",
    ).replace("images:\n", "volumes:\n  - volume: data\nimages:\n", 1)
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "`sub_path`")
    assert error.key_path == "pipelines[0].tasks[0].mounts[0].sub_path"


# --- placeholders --------------------------------------------------------------------------------


def test_unknown_placeholder_is_a_warning_naming_where_values_come_from(tmp_path: Path) -> None:
    text = "variables:\n  greeting: hello\n" + MINIMAL.lstrip("\n").replace(
        "cmd: echo hi", "cmd: echo {{ gretting }} {{ greeting }} {{ ds }} {{ dag_run.conf.x }}"
    )
    _, warnings = load(tmp_path, {"liminal.yml": text})
    (warning,) = [w for w in warnings if "placeholder" in w.message]
    assert "`{{ gretting }}`" in warning.message
    assert "DAG run's conf, Airflow Variables and the environment" in warning.message
    assert warning.suggestion == "greeting"
    assert warning.key_path == "pipelines[0].tasks[0].cmd"


def test_self_doubling_variable_is_an_instant_located_error(tmp_path: Path) -> None:
    text = 'variables:\n  a: "{{a}}{{a}}"\n' + MINIMAL.lstrip("\n")
    started = time.perf_counter()
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "expand to more than")
    assert time.perf_counter() - started < 5
    assert (error.line, error.key_path) == (2, "variables.a")


# --- parents, summaries, discovery ---------------------------------------------------------------


def test_parent_files_are_validated_without_a_child(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {
            "a/liminal.yml": "name: a\ntype: super\nsuper: b\n",
            "b/liminal.yml": "name: b\ntype: super\nsuper: a\n",
        },
    )
    assert any("cycle" in e.message for e in errors)


def test_unknown_parent_of_a_parent_and_bad_sections_are_reported(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {"base/liminal.yml": "name: base2\ntype: super\nsuper: nowhere\nimages: 3\npipelins: []\n"},
    )
    assert find(errors, "unknown super `nowhere`").line == 3
    assert find(errors, "`images` must be a list").line == 4
    assert find(errors, "unknown top-level key `pipelins`").suggestion == "pipelines"


def test_an_unknown_super_does_not_hide_the_files_other_errors(tmp_path: Path) -> None:
    text = MINIMAL.replace("name: app", "name: app\nsuper: nowhere").replace(
        "type: python\n        image", "type: pyton\n        image"
    )
    errors = errors_of(tmp_path, {"liminal.yml": text})
    find(errors, "unknown super `nowhere`")
    assert find(errors, "unknown task type").suggestion == "python"


def test_summary_counts_every_file_read(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "liminal.yml": "name: platform\ntype: super\n",
            "app/liminal.yml": MINIMAL.replace("name: app", "name: app\nsuper: platform"),
        },
    )
    loaded = load_project_report(tmp_path)
    assert len(loaded.files_read) == 2 and len(loaded.project.files) == 1
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert "OK: 1 file(s) and 1 parent file(s)" in result.output


def test_build_output_inside_the_project_is_not_part_of_it(tmp_path: Path) -> None:
    write_tree(tmp_path, {"liminal.yml": MINIMAL})
    built = runner.invoke(app, ["build", str(tmp_path), "--out", str(tmp_path / "build")])
    assert built.exit_code == 0, built.output
    assert list((tmp_path / "build").rglob("liminal.yml"))  # the context copied the project
    assert discovery.discover(tmp_path) == [(tmp_path / "liminal.yml").resolve()]
    again = runner.invoke(app, ["validate", str(tmp_path)])
    assert again.exit_code == 0, again.output


def test_build_context_marker_is_the_one_discovery_skips() -> None:
    from liminal_pulumi.build import images

    assert images.CONTEXT_MARKER == discovery.BUILD_CONTEXT_MARKER


def test_deployment_conflicts_between_apps_never_drop_an_apps_pipelines(tmp_path: Path) -> None:
    one = MINIMAL.replace("name: app", "name: one") + "    python_version: '3.12'\n"
    two = MINIMAL.replace("name: app", "name: two").replace("pipeline: p", "pipeline: q")
    write_tree(tmp_path, {"one/liminal.yml": one, "two/liminal.yml": two})
    errors = errors_of(tmp_path, {})
    conflict = find(errors, "declared differently")
    assert conflict.scope == "deployment"
    project, problems = load_what_loads(tmp_path)
    assert problems == ()
    assert sorted(p.pipeline for _, p in project.pipelines()) == ["p", "q"]


def test_a_pipeline_id_in_two_apps_still_breaks_the_later_file(tmp_path: Path) -> None:
    two = MINIMAL.replace("name: app", "name: two")
    write_tree(tmp_path, {"one/liminal.yml": MINIMAL, "two/liminal.yml": two})
    _, problems = load_what_loads(tmp_path)
    assert [d.scope for d in problems] and "duplicate pipeline" in problems[0].message


def test_a_misspelt_super_never_searches_the_home_folder_or_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    write_tree(
        home,
        {
            "liminal.yml": "name: platform\ntype: super\n",  # in $HOME: never searched
            "proj/app/liminal.yml": MINIMAL.replace("name: app", "name: app\nsuper: platform"),
        },
    )
    monkeypatch.setenv("HOME", str(home))
    searched: list[Path] = []
    real = loader.discover

    def spy(path: Path, *args: object) -> list[Path]:
        searched.append(Path(path))
        return real(path)

    monkeypatch.setattr(loader, "discover", spy)
    errors = errors_of(home / "proj" / "app" / "liminal.yml", {})
    find(errors, "unknown super `platform`")
    assert home.resolve() not in [p.resolve() for p in searched]
    assert all(p.resolve().is_relative_to(home / "proj") for p in searched), searched


def test_discovery_is_bounded(tmp_path: Path) -> None:
    for index in range(30):
        (tmp_path / f"d{index}").mkdir()
    with pytest.raises(LiminalConfigError, match="more than 10 folders"):
        discovery.discover(tmp_path, max_folders=10)


def test_a_fifo_named_liminal_yml_is_a_located_error_not_a_hang(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/liminal.yml": MINIMAL})
    os.mkfifo(tmp_path / "liminal.yml")
    done = subprocess.run(
        [sys.executable, "-m", "liminal_pulumi.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "FIFO" in done.stderr and "Traceback" not in done.stderr


def test_a_symlink_loop_named_liminal_yml_is_a_located_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/liminal.yml": MINIMAL})
    (tmp_path / "liminal.yml").symlink_to(tmp_path / "liminal.yml")
    errors = errors_of(tmp_path, {})
    assert find(errors, "symbolic link loop").file == tmp_path / "liminal.yml"


def test_100k_brackets_are_a_located_error_in_a_process_that_survives(tmp_path: Path) -> None:
    (tmp_path / "liminal.yml").write_text("name: app\nvariables:\n  x: " + "[" * 100_000 + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "liminal_pulumi.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "liminal.yml:3:" in done.stderr and "nested more than 200 levels" in done.stderr


# --- schedules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4 *", "never fires"),
        ("61 * * * *", "minute field `61`"),
        ("'@fortnightly'", "unknown preset"),
        ("5 minutes", "5 fields"),
    ],
)
def test_schedules_airflow_cannot_run_are_errors(tmp_path: Path, schedule: str, words: str) -> None:
    error = find(
        errors_of(tmp_path, {"liminal.yml": pipeline_with(f"schedule: {schedule}")}), words
    )
    assert error.key_path == "pipelines[0].schedule"


@pytest.mark.parametrize("schedule", ["'@daily'", "'@quarterly'", "0 0 29 2 *", "'@once'"])
def test_schedules_airflow_runs_are_accepted(tmp_path: Path, schedule: str) -> None:
    file = load_file(tmp_path, pipeline_with(f"schedule: {schedule}"))
    assert file.pipelines[0].schedule == schedule.strip("'")


# --- validate --strict ---------------------------------------------------------------------------


def test_strict_turns_warnings_into_errors(tmp_path: Path) -> None:
    write_tree(tmp_path, {"liminal.yml": pipeline_with("my_own_setting: 3")})
    relaxed = runner.invoke(app, ["validate", str(tmp_path)])
    assert relaxed.exit_code == 0 and "warning:" in relaxed.output
    strict = runner.invoke(app, ["validate", str(tmp_path), "--strict"])
    assert strict.exit_code == 2
    assert "error: pipelines[0].my_own_setting" in strict.output
    assert "1 error(s), 0 warning(s)" in strict.output


def test_strict_json_reports_warnings_as_errors(tmp_path: Path) -> None:
    import json

    write_tree(tmp_path, {"liminal.yml": pipeline_with("my_own_setting: 3")})
    result = runner.invoke(app, ["validate", str(tmp_path), "--strict", "--format", "json"])
    report = json.loads(result.output)
    assert report["ok"] is False
    assert [d["severity"] for d in report["diagnostics"]] == ["error"]


def test_every_diagnostic_of_a_broken_project_is_located(tmp_path: Path) -> None:
    """Several mistakes of this file at once: every one reported, each with file and line."""
    text = pipeline_with("retry_delay: 5 minutes\ncatchup: sometimes", name="'bad id'")
    text = text.replace("type: python\n\n", "type: python\n").replace(
        "timeout_minutes: 10", "timeout_minutes: 1.0e+23"
    )
    with pytest.raises(LiminalConfigError) as caught:
        load_project(write_tree(tmp_path, {"liminal.yml": text}))
    errors: list[Diagnostic] = list(caught.value.errors)
    assert len(errors) >= 4
    assert all(e.file is not None and e.line is not None for e in errors)

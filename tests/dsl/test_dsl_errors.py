"""Every kind of user mistake: a located error (file, line, column, key path), never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from dsl_helpers import MINIMAL, errors_of, find, load

from liminal_pulumi.dsl.diagnostics import LiminalConfigError
from liminal_pulumi.dsl.loader import load_project


def with_task(extra: str) -> str:
    """MINIMAL with `extra` lines added to its task."""
    return MINIMAL.replace("        cmd: echo hi\n", "        cmd: echo hi\n" + extra)


# Ten levels of nine aliases each: 9**10 values once expanded, in eleven lines.
ALIAS_BOMB = (
    "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))
    + "name: app\n"
)


# (case id, liminal.yml text, file line, key path, words in the message, suggestion)
SINGLE_FILE_CASES = [
    ("yaml syntax", "name: app\npipelines: [\n", 3, "", "YAML syntax error", None),
    ("tab indentation", "name: app\n\tpipelines: []\n", 2, "", "YAML syntax error", None),
    ("empty file", "", 1, "", "empty", None),
    ("comment only", "# nothing here\n", 1, "", "empty", None),
    ("top level list", "- name: app\n", 1, "", "top level must be a mapping", None),
    ("top level text", "just text\n", 1, "", "top level must be a mapping", None),
    ("missing name", "pipelines: []\n", 1, "", "missing required key `name`", None),
    ("name not text", "name: [a]\n", 1, "name", "must be text", None),
    ("file type", "name: a\ntype: supper\n", 2, "type", "must be sub or super", "super"),
    (
        "misspelt top key",
        "name: a\npipelnes: []\n",
        2,
        "pipelnes",
        "unknown top-level",
        "pipelines",
    ),
    ("duplicate key", "name: a\nname: b\n", 2, "name", "duplicate key", None),
    (
        "python tag",
        "name: !!python/object/apply:os.system [echo]\n",
        1,
        "name",
        "unsupported YAML tag `tag:yaml.org,2002:python/object/apply:os.system`",
        None,
    ),
    ("alias bomb", ALIAS_BOMB, 1, "", "aliases expand to more than", None),
    (
        "too deep",
        "name: app\nvariables:\n  x: " + "[" * 300 + "]" * 300 + "\n",
        3,
        "variables.x[0][0][0][0][0][0]",
        "nested more than",
        None,
    ),
    (
        "missing required",
        MINIMAL.replace("    timeout_minutes: 10\n", ""),
        3,
        "pipelines[0].timeout_minutes",
        "missing required key `timeout_minutes`",
        None,
    ),
    (
        "wrong type",
        MINIMAL.replace("timeout_minutes: 10", "timeout_minutes: ten"),
        5,
        "pipelines[0].timeout_minutes",
        "expected a whole number",
        None,
    ),
    (
        "negative timeout",
        MINIMAL.replace("timeout_minutes: 10", "timeout_minutes: -1"),
        5,
        "pipelines[0].timeout_minutes",
        "greater than 0",
        None,
    ),
    (
        "bad date",
        MINIMAL.replace("2024-01-01", "yesterday"),
        4,
        "pipelines[0].start_date",
        "must be a date",
        None,
    ),
    (
        "impossible date",
        MINIMAL.replace("2024-01-01", "2024-02-30"),
        4,
        "pipelines[0].start_date",
        "invalid date",
        None,
    ),
    (
        "bad cron",
        MINIMAL.replace("    tasks:", "    schedule: 0 25 * * *\n    tasks:"),
        6,
        "pipelines[0].schedule",
        "hour field",
        None,
    ),
    (
        "cron fields",
        MINIMAL.replace("    tasks:", "    schedule: every day\n    tasks:"),
        6,
        "pipelines[0].schedule",
        "5 fields",
        None,
    ),
    (
        "bad preset",
        MINIMAL.replace("    tasks:", "    schedule: '@dayly'\n    tasks:"),
        6,
        "pipelines[0].schedule",
        "unknown preset",
        None,
    ),
    (
        "misspelt pipeline key",
        MINIMAL.replace("    tasks:", "    schedul: '@daily'\n    tasks:"),
        6,
        "pipelines[0].schedul",
        "unknown key",
        "schedule",
    ),
    (
        "unknown task type",
        MINIMAL.replace("type: python\n        image", "type: pyton\n        image"),
        8,
        "pipelines[0].tasks[0].type",
        "unknown task type `pyton`",
        "python",
    ),
    (
        "missing task type",
        MINIMAL.replace("        type: python\n        image: img\n", "        image: img\n"),
        7,
        "pipelines[0].tasks[0]",
        "missing its `type`",
        None,
    ),
    (
        "misspelt task key",
        with_task("        env_var: {A: b}\n"),
        11,
        "pipelines[0].tasks[0].env_var",
        "unknown key `env_var`",
        "env_vars",
    ),
    (
        "unknown image",
        MINIMAL.replace("image: img\n        cmd", "image: imgg\n        cmd"),
        9,
        "pipelines[0].tasks[0].image",
        "unknown image `imgg`",
        "img",
    ),
    (
        "unknown executor",
        with_task("        executor: default_k8\n"),
        11,
        "pipelines[0].tasks[0].executor",
        "unknown executor",
        "default_k8s",
    ),
    (
        "not runnable",
        with_task("        executor: airflow_executor\n"),
        11,
        "pipelines[0].tasks[0].executor",
        "cannot run on executor",
        None,
    ),
    (
        "unknown volume",
        with_task("        mounts:\n          - volume: store\n            path: /m\n"),
        12,
        "pipelines[0].tasks[0].mounts[0].volume",
        "unknown volume `store`",
        None,
    ),
    (
        "unknown secret",
        with_task("        secrets:\n          - secret: aws\n            remote_path: /s\n"),
        12,
        "pipelines[0].tasks[0].secrets[0].secret",
        "unknown secret",
        None,
    ),
    (
        "unknown image type",
        MINIMAL.replace("    type: python\n", "    type: python_sever\n").replace(
            "        type: python_sever\n", "        type: python\n"
        ),
        13,
        "images[0].type",
        "unknown image type",
        "python_server",
    ),
    (
        "unknown executor type",
        MINIMAL + "executors:\n  - executor: e\n    type: kubernets\n",
        16,
        "executors[0].type",
        "unknown executor type",
        "kubernetes",
    ),
    (
        "duplicate task",
        with_task("      - task: t\n        type: python\n        image: img\n        cmd: x\n"),
        11,
        "pipelines[0].tasks[1].task",
        "duplicate task `t`",
        None,
    ),
    (
        "task named like the base start",
        MINIMAL.replace("task: t", "task: start"),
        7,
        "pipelines[0].tasks[0].task",
        "duplicate task `start`",
        None,
    ),
    (
        "duplicate pipeline",
        MINIMAL.replace(
            "pipelines:\n",
            "pipelines:\n  - pipeline: p\n    start_date: 2024-01-01\n    timeout_minutes: 1\n",
        ),
        6,
        "pipelines[1].pipeline",
        "duplicate pipeline `p`",
        None,
    ),
    (
        "duplicate service",
        MINIMAL + "services:\n  - service: s\n    image: img\n  - service: s\n    image: img\n",
        17,
        "services[1].service",
        "duplicate service `s`",
        None,
    ),
    (
        "duplicate image",
        MINIMAL + "  - image: img\n    type: python\n",
        14,
        "images[1].image",
        "duplicate image `img`",
        None,
    ),
    (
        "service image",
        MINIMAL + "services:\n  - service: s\n    image: imag\n",
        16,
        "services[0].image",
        "unknown image `imag`",
        "img",
    ),
    (
        "service type",
        MINIMAL + "services:\n  - service: s\n    image: img\n    type: python-server\n",
        17,
        "services[0].type",
        "unknown service type `python-server`",
        "python_server",
    ),
    (
        "env not mapping",
        with_task("        env_vars: [A]\n"),
        11,
        "pipelines[0].tasks[0].env_vars",
        "must be a mapping",
        None,
    ),
    (
        "tasks not a list",
        MINIMAL.replace("    tasks:\n", "    tasks: nope\n    old_tasks:\n"),
        6,
        "pipelines[0].tasks",
        "must be a list",
        None,
    ),
    (
        "pipelines not a list",
        "name: a\npipelines: {pipeline: p}\n",
        2,
        "pipelines",
        "must be a list",
        None,
    ),
    (
        "unknown task variables group",
        with_task("        variables: grup\n") + "variables:\n  group: {a: b}\n",
        11,
        "pipelines[0].tasks[0].variables",
        "not a mapping in `variables`",
        "group",
    ),
    (
        "bad yaml tag",
        "name: !!python/name:os.system x\n",
        1,
        "name",
        "unsupported YAML tag",
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key_path", "words", "suggestion"),
    [case[1:] for case in SINGLE_FILE_CASES],
    ids=[case[0] for case in SINGLE_FILE_CASES],
)
def test_mistake_is_a_located_error(
    tmp_path: Path, text: str, line: int, key_path: str, words: str, suggestion: str | None
) -> None:
    error = find(errors_of(tmp_path, {"liminal.yml": text}), words)
    assert error.file == (tmp_path / "liminal.yml").resolve()
    assert error.line == line, str(error)
    assert error.column is not None and error.column >= 1
    assert error.key_path == key_path
    assert error.suggestion == suggestion
    assert error.severity == "error"


def test_all_errors_of_all_files_come_in_one_run(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {
            "a/liminal.yml": "name: a\npipelines: [\n",
            "b/liminal.yml": MINIMAL.replace("name: app", "name: b").replace("imag", "imga"),
            "c/liminal.yml": MINIMAL.replace("name: app", "name: c").replace("10", "x"),
            "d/liminal.yml": MINIMAL.replace("name: app", "name: d")
            .replace("pipeline: p", "pipeline: q")
            .replace("echo hi", "echo ok\n        executor: nope"),
        },
    )
    files = {e.file.parent.name for e in errors if e.file}
    assert files == {"a", "b", "c", "d"}
    d_errors = [e for e in errors if e.file and e.file.parent.name == "d"]
    assert any("unknown executor `nope`" in e.message for e in d_errors)


def test_type_errors_and_reference_errors_come_together(tmp_path: Path) -> None:
    text = MINIMAL.replace("10", "ten").replace("image: img\n        cmd", "image: x\n        cmd")
    errors = errors_of(tmp_path, {"liminal.yml": text})
    assert {e.key_path for e in errors} == {
        "pipelines[0].timeout_minutes",
        "pipelines[0].tasks[0].image",
    }


def test_duplicate_file_names_name_both_files(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, {"x/liminal.yml": "name: same\n", "y/liminal.yml": "name: same\n"})
    error = find(errors, "duplicate file name")
    assert str((tmp_path / "x/liminal.yml").resolve()) in error.message
    assert str((tmp_path / "y/liminal.yml").resolve()) in error.message


def test_pipelines_must_be_unique_across_files(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {"x/liminal.yml": MINIMAL, "y/liminal.yml": MINIMAL.replace("name: app", "name: other")},
    )
    error = find(errors, "duplicate pipeline `p`")
    assert "x/liminal.yml" in error.message and error.file and error.file.parent.name == "y"


def test_unknown_super_suggests_the_nearest_parent(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {
            "parent/liminal.yml": "name: team_defaults\ntype: super\n",
            "child/liminal.yml": MINIMAL.replace("name: app", "name: app\nsuper: team_defualts"),
        },
    )
    error = find(errors, "unknown super `team_defualts`")
    assert error.suggestion == "team_defaults"
    assert (error.line, error.key_path) == (2, "super")


def test_super_cycle_is_an_error(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {
            "a/liminal.yml": "name: a\ntype: super\nsuper: b\n",
            "b/liminal.yml": "name: b\ntype: super\nsuper: a\n",
            "c/liminal.yml": MINIMAL.replace("name: app", "name: c\nsuper: a"),
        },
    )
    cycles = [e.message for e in errors if "cycle" in e.message]
    assert any("c -> a -> b -> a" in m for m in cycles), cycles
    # the parents are checked on their own too: each one's chain is a cycle
    assert any(m.endswith("b -> a -> b") for m in cycles), cycles


def test_a_mistake_in_a_parent_is_located_in_the_parent(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        {
            "parent/liminal.yml": "name: parent\ntype: super\nexecutors:\n  - executor: e\n"
            "    type: airflw\n",
            "c1/liminal.yml": MINIMAL.replace("name: app", "name: c1\nsuper: parent"),
            "c2/liminal.yml": MINIMAL.replace("name: app", "name: c2\nsuper: parent")
            .replace("pipeline: p", "pipeline: p2")
            .replace("img", "img2"),
        },
    )
    (error,) = errors  # both children see it, it is reported once
    assert error.file == (tmp_path / "parent/liminal.yml").resolve()
    assert (error.line, error.key_path, error.suggestion) == (5, "executors[0].type", "airflow")


def test_a_parent_section_that_is_not_a_list_is_its_one_error(tmp_path: Path) -> None:
    """Not a cascade of unknown executors in the child and the built-in start/end tasks."""
    errors = errors_of(
        tmp_path,
        {
            "parent/liminal.yml": "name: parent\ntype: super\nexecutors: false\n",
            "child/liminal.yml": MINIMAL.replace("name: app", "name: c1\nsuper: parent"),
        },
    )
    (error,) = errors
    assert error.file == (tmp_path / "parent/liminal.yml").resolve()
    assert (error.line, error.key_path) == (3, "executors")
    assert "must be a list" in error.message


@pytest.mark.parametrize(
    ("text", "line", "key_path"),
    [
        (MINIMAL + '    source: "a\\0b"\n', 14, "images[0].source"),
        (
            MINIMAL + 'volumes:\n  - volume: v\n    local:\n      path: "x\\0"\n',
            17,
            "volumes[0].local.path",
        ),
    ],
    ids=["image source", "volume path"],
)
def test_a_path_that_cannot_be_one_is_a_located_error(
    tmp_path: Path, text: str, line: int, key_path: str
) -> None:
    (error,) = errors_of(tmp_path, {"liminal.yml": text})
    assert (error.line, error.key_path) == (line, key_path)
    assert "not a usable path" in error.message


def test_missing_path_and_empty_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(LiminalConfigError, match="no such file"):
        load_project(tmp_path / "nowhere")
    with pytest.raises(LiminalConfigError, match="no liminal.yml"):
        load_project(tmp_path)


def test_unknown_top_level_key_far_from_any_is_a_warning(tmp_path: Path) -> None:
    _, warnings = load(tmp_path, {"liminal.yml": MINIMAL + "team_notes: anything\n"})
    (warning,) = warnings
    assert (warning.key_path, warning.severity) == ("team_notes", "warning")


def test_diagnostic_text_reads_file_line_column_path_and_hint(tmp_path: Path) -> None:
    error = find(errors_of(tmp_path, {"liminal.yml": "name: a\npipelnes: []\n"}), "unknown")
    text = str(error)
    assert text.startswith(f"{(tmp_path / 'liminal.yml').resolve()}:2:1: error: pipelnes:")
    assert text.endswith("(did you mean `pipelines`?)")


def test_duplicate_parent_names_each_child_still_uses_its_nearest_parent(tmp_path: Path) -> None:
    """Two projects in one tree, each with a parent named `infra`: the clash is an error, and
    each child is still checked against its own parent, so no other error is hidden or made up."""

    def parent(executor: str) -> str:
        executors = f"executors:\n  - executor: {executor}\n    type: kubernetes\n"
        return "name: infra\ntype: super\n" + executors

    def child(name: str, executor: str, pipeline: str) -> str:
        task = f"        executor: {executor}\n        cmd: echo hi"
        return (
            MINIMAL.replace("name: app", f"name: {name}\nsuper: infra")
            .replace("        cmd: echo hi", task)
            .replace("pipeline: p", f"pipeline: {pipeline}")
            .replace("img", f"img_{name}")
        )

    errors = errors_of(
        tmp_path,
        {
            "one/archetype/liminal.yml": parent("pods_one"),
            "one/app/liminal.yml": child("one", "pods_one", "p1"),
            "two/archetype/liminal.yml": parent("pods_two"),
            "two/app/liminal.yml": child("two", "pods_tow", "p2"),
        },
    )
    clash = find(errors, "duplicate file name `infra`")
    assert clash.file == (tmp_path / "two/archetype/liminal.yml").resolve()
    typo = find(errors, "unknown executor `pods_tow`")
    assert typo.file == (tmp_path / "two/app/liminal.yml").resolve()
    assert typo.suggestion == "pods_two"  # found in two's own parent, not in one's
    assert len(errors) == 2

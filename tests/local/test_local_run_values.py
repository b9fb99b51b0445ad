"""Run-time values reach a task's command as environment variables, never as shell code, and are
not templated again; secret values are masked on the terminal and in every log; a chatty task's
output is all in its log file while the terminal gets a bounded tail."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import jinja2
import pytest
from local_helpers import liminal_run, task, write_project

from liminal_pulumi.airflow.runtime_variables import make_macro, rewrite, shell_safe_command

NASTY = [
    "plain",
    "; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a  b\tc",
    "*",
    'it\'s "quoted" \\ back',
    "{{ HOME }}",
    "line one\nline two",
    "$HOME ${PATH}",
    "' ; touch PWNED ; '",
    '" ; touch PWNED ; "',
]


@pytest.mark.parametrize("value", NASTY)
def test_a_conf_value_is_one_literal_argument_in_every_quoting(tmp_path: Path, value: str) -> None:
    template = "printf '<%s>' {{ x }} \"in {{ x }} double\" 'in {{ x }} single' x{{ x }}y"
    command, env_templates = shell_safe_command(rewrite(template))
    assert "{{" not in command

    class Run:
        conf = {"x": value}

    macro = make_macro({}, {})
    environment = jinja2.Environment()
    env = {
        name: environment.from_string(text).render(liminal_var=macro, dag_run=Run())
        for name, text in env_templates.items()
    }
    done = subprocess.run(
        ["/bin/bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"<{value}><in {value} double><in {value} single><x{value}y>")
    assert not (tmp_path / "PWNED").exists()


def test_liminal_run_never_executes_or_renders_a_conf_value(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        task("show", '''"echo \\"got {{ x }}\\" ; echo got2 {{ x }}"'''),
    )
    value = "$(touch pwned-1); touch pwned-2; `touch pwned-3` {{ HOME }} {{ var.value.x }}"
    done = liminal_run(project, "--conf", json.dumps({"x": value}))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shown = [ln.split("| ", 1)[1] for ln in done.stdout.splitlines() if "show |" in ln]
    assert shown == [f"got {value}", f"got2 {value}"]
    assert not list(project.glob("pwned-*"))


def _files_holding(folder: Path, secret: str) -> list[str]:
    """Files under `folder` holding `secret`, but for the database (see `_tables_holding`) and
    the secret files' own copies (`.liminal/secrets`, what a pod would mount)."""
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix != ".db"
        and "secrets" not in p.relative_to(folder).parts
        and secret.encode() in p.read_bytes()
    ]


def _tables_holding(database: Path, secret: str) -> set[str]:
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("select name from sqlite_master where type = 'table'")
        ]
        return {
            table
            for table in tables
            if any(secret in repr(row) for row in connection.execute(f'select * from "{table}"'))
        }


def test_a_failing_task_never_shows_a_secret_value(tmp_path: Path) -> None:
    token = "tok-SECRET-9876543210"
    file_secret = "filesecret-ABCDEF-424242"
    project = write_project(
        tmp_path / "p",
        task(
            "leaky",
            '"echo calling with {{ api_token }}; cat /mnt/creds/credentials; '
            'echo token=$API_TOKEN; exit 3"',
            extra=(
                "        env_vars:\n"
                "          API_TOKEN: '{{ api_token }}'\n"
                "        secrets:\n"
                "          - secret: creds\n"
                "            remote_path: /mnt/creds\n"
            ),
        ),
        extra=("secrets:\n  - secret: creds\n    local_path_file: creds.txt\n"),
    )
    (project / "creds.txt").write_text(f"password = {file_secret}\n")
    done = liminal_run(project, "--conf", json.dumps({"api_token": token}))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    terminal = done.stdout + done.stderr
    assert "task leaky failed" in terminal
    assert "calling with ***" in terminal  # the task ran, its output masked
    assert "exited with status 3" in terminal
    database = project / ".liminal" / "airflow" / "airflow.db"
    for secret in (token, file_secret):
        assert secret not in terminal
        assert _files_holding(project / ".liminal", secret) == [], secret
    # The run's conf is kept as given in Airflow's `dag_run` table (as on MWAA); the rendered
    # fields, logs and task instances hold only the masked value.
    assert _tables_holding(database, token) == {"dag_run"}
    assert _tables_holding(database, file_secret) == set()
    assert "rendered_task_instance_fields" in _tables_holding(database, '"API_TOKEN": "***"')


def test_a_chatty_task_is_all_in_its_log_and_tailed_on_the_terminal(tmp_path: Path) -> None:
    lines = 200_000
    project = write_project(
        tmp_path / "p",
        task(
            "chatty", f'''"python -c 'for i in range({lines}): print(\\"line\\", i)'; echo LAST"'''
        ),
    )
    done = liminal_run(project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = project / ".liminal" / "logs" / "p" / "chatty.log"
    logged = log.read_text().splitlines()
    assert logged[0] == "line 0" and logged[lines - 1] == f"line {lines - 1}"
    assert logged[lines:] == ["LAST"]
    shown = [ln for ln in done.stdout.splitlines() if "chatty |" in ln]
    assert shown[-1].endswith("| LAST")
    assert any("more line(s) in" in ln and str(log) in ln for ln in shown)
    assert len(shown) < lines / 20  # a tail, not every line

"""The `liminal` command line.

Each command is a thin shell over the module that does the work; heavy imports (Airflow,
Pulumi, Flask) happen inside the command that needs them so `liminal validate` stays fast.
User mistakes exit with status 2 and located messages, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="liminal",
    help="Liminal ML workflows: validate liminal.yml, run pipelines locally, serve, build, plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PathArg = typer.Argument(..., help="A folder of liminal.yml files, or one liminal.yml.")


# --- validate / schema (the DSL) ---------------------------------------------------------------
@app.command()
def validate(path: Path = PathArg, format: str = typer.Option("text", help="text or json")) -> None:
    """Validate liminal.yml files and summarise them; every error is located (file:line:col)."""
    raise NotImplementedError  # filled by the DSL work


@app.command()
def schema() -> None:
    """Print the JSON Schema of liminal.yml, for editors (yaml-language-server)."""
    raise NotImplementedError  # filled by the DSL work


# --- run (local Airflow) ------------------------------------------------------------------------
@app.command()
def run(path: Path = PathArg) -> None:
    """Run the project's pipelines with real Airflow on this machine."""
    raise NotImplementedError  # filled by the DAG work


# --- serve / build (serving and images) ---------------------------------------------------------
@app.command()
def serve(path: Path = PathArg) -> None:
    """Serve a project's service locally under gunicorn."""
    raise NotImplementedError  # filled by the serving work


@app.command()
def build(path: Path = PathArg) -> None:
    """Write reproducible image build contexts (Dockerfiles) for the project's images."""
    raise NotImplementedError  # filled by the serving work


# --- plan (the AWS stack, offline) --------------------------------------------------------------
@app.command()
def plan(path: Path = PathArg) -> None:
    """Show the resources a stack would hold, evaluated offline under the Pulumi SDK's mocks."""
    raise NotImplementedError  # filled by the infra work


if __name__ == "__main__":
    app()

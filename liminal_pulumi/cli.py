"""The `liminal` command line.

Each command is a thin shell over the module that does the work; heavy imports (Airflow,
Pulumi, Flask) happen inside the command that needs them so `liminal validate` stays fast.
User mistakes exit with status 2 and located messages, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from liminal_pulumi.dsl.model import Project

app = typer.Typer(
    name="liminal",
    help="Liminal ML workflows: validate liminal.yml, run pipelines locally, serve, build, plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PathArg = typer.Argument(..., help="A folder of liminal.yml files, or one liminal.yml.")


# --- validate / schema (the DSL) ---------------------------------------------------------------
StrictOption = typer.Option(False, "--strict", help="Warnings are errors too (for CI).")


@app.command()
def validate(
    path: Path = PathArg,
    format: str = typer.Option("text", help="text or json"),
    strict: bool = StrictOption,
) -> None:
    """Validate liminal.yml files and summarise them; every error is located (file:line:col)."""
    import json

    from liminal_pulumi.dsl.diagnostics import LiminalConfigError
    from liminal_pulumi.dsl.diagnostics import strict as as_errors
    from liminal_pulumi.dsl.loader import load_project_report
    from liminal_pulumi.dsl.summary import error_text, result_json, summary_text

    if format not in ("text", "json"):
        typer.echo(f"error: --format must be text or json, got {format!r}", err=True)
        raise typer.Exit(2)
    try:
        loaded = load_project_report(path)
        if strict and loaded.warnings:
            raise LiminalConfigError(as_errors(loaded.warnings))
    except LiminalConfigError as error:
        diagnostics = as_errors(error.diagnostics) if strict else error.diagnostics
        if format == "json":
            typer.echo(json.dumps(result_json(None, diagnostics), indent=2))
        else:
            typer.echo(error_text(LiminalConfigError(diagnostics)), err=True)
        raise typer.Exit(2) from None
    if format == "json":
        typer.echo(
            json.dumps(result_json(loaded.project, loaded.warnings, loaded.files_read), indent=2)
        )
    else:
        typer.echo(summary_text(loaded.project, loaded.warnings, loaded.files_read))


@app.command()
def schema() -> None:
    """Print the JSON Schema of liminal.yml, for editors (yaml-language-server)."""
    import json

    from liminal_pulumi.dsl.schema import liminal_schema

    typer.echo(json.dumps(liminal_schema(), indent=2))


# --- run (local Airflow) ------------------------------------------------------------------------
@app.command()
def run(
    path: Path = PathArg,
    pipeline: str | None = typer.Option(None, "--pipeline", help="Run only this pipeline."),
    conf: str | None = typer.Option(
        None, "--conf", help="JSON object given to the DAG run as its conf."
    ),
) -> None:
    """Run the project's pipelines with real Airflow on this machine."""
    from liminal_pulumi.local.run import main

    raise typer.Exit(main(path, pipeline, conf))


# --- serve / build (serving and images) ---------------------------------------------------------
ServiceOption = typer.Option(None, help="The service to serve (needed if there are several).")
PortOption = typer.Option(None, min=1, max=65535, help="Port (default: the service's port).")
HostOption = typer.Option("127.0.0.1", help="Address to listen on.")
BuildOutOption = typer.Option(
    None, "--out", help="Folder for the build contexts (default: <project>/.liminal/build)."
)
BuildImageOption = typer.Option([], "--image", help="Only this image tag (repeatable).")


@app.command()
def serve(
    path: Path = PathArg,
    service: str | None = ServiceOption,
    port: int | None = PortOption,
    host: str = HostOption,
) -> None:
    """Serve a project's service locally under gunicorn, with the local model store."""
    from liminal_pulumi.local.serve import ServeError, exec_server, plan_local_serve

    project, _ = _load_what_loads(path)
    try:
        plan = plan_local_serve(project, service, port=port, host=host)
        typer.echo(f"serving {plan.service.service} at {plan.url} (Ctrl-C stops it)", err=True)
        exec_server(plan)
    except ServeError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def build(
    path: Path = PathArg,
    out: Path | None = BuildOutOption,
    image: list[str] = BuildImageOption,
) -> None:
    """Write reproducible image build contexts (Dockerfiles) for the project's images."""
    from liminal_pulumi import defaults
    from liminal_pulumi.build.images import (
        ImageBuildError,
        project_secret_files,
        write_build_context_report,
    )

    project, failed = _load_what_loads(path)
    out_dir = out if out is not None else project.root / defaults.LOCAL_STATE_DIR / "build"
    # Secret files never enter a context, even when they sit in an image's source folder.
    secret_files = project_secret_files(project)
    images = {(f.path, i.image): i for f in project.files for i in f.images}
    unknown = sorted(set(image) - {tag for _, tag in images})
    if unknown:
        typer.echo(f"error: no image {', '.join(unknown)} in {project.root}", err=True)
        raise typer.Exit(2)
    for (file, tag), declared in sorted(images.items(), key=lambda item: item[0][1]):
        if image and tag not in image:
            continue
        try:
            written = write_build_context_report(declared, out_dir, exclude=secret_files)
        except ImageBuildError as error:  # the other images are still written
            typer.echo(f"error: {file}: {error}", err=True)
            failed = True
            continue
        typer.echo(f"{tag}: {written.path}")
        if written.left_out:
            typer.echo(f"  left out of {declared.source}: {', '.join(written.left_out)}")
    if failed:
        raise typer.Exit(2)


@app.command()
def monitor(
    path: Path = PathArg,
    service: str | None = typer.Option(None, help="One monitored service (default: all)."),
    hours: float | None = typer.Option(None, help="Only requests of the last N hours."),
) -> None:
    """Summarise monitored services: requests, errors, latency, drift, the HTML report's path."""
    from liminal_pulumi.monitoring.summary import MonitorError, monitored, render, summarise

    project, _ = _load_what_loads(path)
    try:
        chosen = monitored(project, service)
    except MonitorError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    texts = [render(summarise(project, s, m, hours=hours)) for s, m in chosen]
    typer.echo("\n\n".join(texts))


def _load_what_loads(path: Path) -> tuple[Project, bool]:
    """The files under `path` that load, the others' errors printed (exit 2 if none loads);
    True as the second value when some file had errors."""
    from liminal_pulumi.dsl.loader import load_what_loads

    project, problems = load_what_loads(path)
    for diagnostic in problems:
        typer.echo(str(diagnostic), err=True)
    if not project.files:
        raise typer.Exit(2)
    if problems:
        typer.echo(f"{len(problems)} error(s): those files are left out", err=True)
    return project, bool(problems)


ProjectDirOption = typer.Option(
    None,
    "--project-dir",
    help="The Pulumi project's folder (holding Pulumi.yaml); default: the current folder.",
)
PlanDiffOption = typer.Option(
    None, "--diff", help="A plan JSON to compare with: show what is added, removed, changed."
)


# --- plan (the AWS stack, offline) --------------------------------------------------------------
@app.command()
def plan(
    path: Path = PathArg,
    stack: str = typer.Option(
        "dev", help="Stack whose Pulumi.<stack>.yaml (in the project's stackConfigDir) applies."
    ),
    project_dir: Path | None = ProjectDirOption,
    json_output: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    diff: Path | None = PlanDiffOption,
) -> None:
    """Show the resources a stack would hold: the Pulumi project's program, run offline under
    the mock cloud of liminal_pulumi.testing, with the stack's config."""
    from rich.console import Console

    from liminal_pulumi.dsl.diagnostics import LiminalConfigError
    from liminal_pulumi.offline_plan import (
        Plan,
        PlanError,
        diff_plans,
        render_diff,
        render_text,
        run_plan,
    )

    try:
        old = Plan.from_json(diff.read_text()) if diff else None
    except (OSError, ValueError, KeyError, TypeError) as error:
        typer.echo(f"error: {diff}: not a plan JSON ({error})", err=True)
        raise typer.Exit(2) from None
    try:
        result = run_plan(path, stack, project_dir)
    except (PlanError, LiminalConfigError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if old is not None:
        changes = diff_plans(old, result)
        typer.echo(changes.to_json() if json_output else "\n".join(render_diff(changes)))
    elif json_output:
        typer.echo(result.to_json(), nl=False)
    else:
        console = Console(width=120)
        for renderable in render_text(result):
            console.print(renderable)


if __name__ == "__main__":
    app()

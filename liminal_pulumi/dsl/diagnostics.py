"""Located messages about liminal.yml files, and the error that carries them.

Every problem found while loading a project becomes a `Diagnostic` naming the file, line and
column, the key path inside the file (`pipelines[0].tasks[2].image`), what was expected, and the
nearest valid name when the user probably misspelt one. Loading collects all of them and raises
one `LiminalConfigError`, so a user fixes a whole project in one round.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning"]
# "file": the file cannot become DAGs/images/services. "deployment": the file is fine on its own
# but clashes with another file of the project once deployed together (one image tag declared
# twice, two services with one Kubernetes name): `validate`/`plan` refuse the project, while the
# DAG loader and `liminal run` still load each file's pipelines.
Scope = Literal["file", "deployment"]
KeyPath = tuple[str | int, ...]


def format_key_path(path: Iterable[str | int]) -> str:
    """`("pipelines", 0, "tasks", 2, "image")` -> `pipelines[0].tasks[2].image`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(word: object, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to `word`, if one is close enough to be a likely misspelling."""
    if not isinstance(word, str):
        return None
    options = sorted(set(candidates))
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Diagnostic:
    message: str
    file: Path | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    key_path: str = ""
    suggestion: str | None = None  # a valid name the user probably meant
    severity: Severity = "error"
    scope: Scope = "file"

    @property
    def location(self) -> str:
        where = str(self.file) if self.file else "<liminal>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}: "
        if self.key_path:
            text += f"{self.key_path}: "
        text += self.message
        if self.suggestion:
            text += f" (did you mean `{self.suggestion}`?)"
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["file"] = str(self.file) if self.file else None
        return data

    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.file or ""), self.line or 0, self.column or 0, self.message)


class LiminalConfigError(Exception):
    """A project has errors; `diagnostics` holds every one of them (and the warnings)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        errors = self.errors
        summary = f"{len(errors)} error(s) in liminal.yml files"
        super().__init__(summary + "".join(f"\n  {d}" for d in errors))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")


@dataclass(frozen=True)
class Location:
    """Where a value sits: the file and its 1-based position, and its key path in that file."""

    file: Path | None = None
    line: int | None = None
    column: int | None = None
    path: KeyPath = ()

    def child(self, key: str | int) -> Location:
        return Location(self.file, self.line, self.column, (*self.path, key))


class Reporter:
    """Collects the diagnostics of one load; duplicates (a parent seen by two children) fold."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], Diagnostic] = {}
        self._error_paths: set[tuple[Path | None, str]] = set()

    def add(
        self,
        where: Location | None,
        message: str,
        *,
        suggestion: str | None = None,
        severity: Severity = "error",
        path: KeyPath | None = None,
        scope: Scope = "file",
    ) -> None:
        where = where or Location()
        key_path = format_key_path(where.path if path is None else path)
        diagnostic = Diagnostic(
            message=message,
            file=where.file,
            line=where.line,
            column=where.column,
            key_path=key_path,
            suggestion=suggestion,
            severity=severity,
            scope=scope,
        )
        if severity == "error" and key_path and (diagnostic.file, key_path) in self._error_paths:
            return  # one error per key: a later stage re-finding a reported problem adds noise
        if severity == "error" and key_path:
            self._error_paths.add((diagnostic.file, key_path))
        self._seen.setdefault(
            (diagnostic.file, diagnostic.line, diagnostic.column, key_path, message, severity),
            diagnostic,
        )

    def error(self, where: Location | None, message: str, **kwargs: Any) -> None:
        self.add(where, message, **kwargs)

    def warning(self, where: Location | None, message: str, **kwargs: Any) -> None:
        self.add(where, message, severity="warning", **kwargs)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(self._seen.values(), key=Diagnostic.sort_key)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self._seen.values())

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Add diagnostics found by another reporter (a trial load)."""
        for d in diagnostics:
            self._seen.setdefault((d.file, d.line, d.column, d.key_path, d.message, d.severity), d)


def strict(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """`liminal validate --strict`: every warning becomes an error (for CI)."""
    return [
        Diagnostic(**{**asdict(d), "severity": "error"}) if d.severity == "warning" else d
        for d in diagnostics
    ]

"""Property: no mutation of a valid project makes loading crash.

Valid files (the iris example and the parent/child fixture tree) are mutated at random — keys
dropped, renamed, values replaced by other types, garbage inserted, YAML broken — and loading must
either succeed or raise LiminalConfigError whose errors are all located in a file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from dsl_helpers import FIXTURES, IRIS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liminal_pulumi.dsl.diagnostics import LiminalConfigError
from liminal_pulumi.dsl.loader import load_project

SOURCES = [IRIS, FIXTURES / "inherited"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["{{ x }}", "{{a-{{b}}}}", "@daily", "0 * * * *", "super", "python", "base"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(paths(value, (*prefix, index)))
    return found


def mutate_data(document: Any, data: st.DataObject) -> Any:
    path = data.draw(st.sampled_from(paths(document)))
    if not path:
        return data.draw(values)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = data.draw(st.sampled_from(["drop", "replace", "rename", "duplicate"]))
    if action == "drop":
        del parent[last]
    elif action == "replace":
        parent[last] = data.draw(values)
    elif action == "rename" and isinstance(parent, dict):
        parent[str(last) + data.draw(st.sampled_from(["s", "_", "x", ""]))[:1] or "x"] = parent.pop(
            last
        )
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(parent[last])
    return document


def mutate_text(text: str, data: st.DataObject) -> str:
    position = data.draw(st.integers(0, len(text)))
    action = data.draw(st.sampled_from(["insert", "delete", "truncate", "indent"]))
    if action == "insert":
        garbage = data.draw(st.text(alphabet=":-[]{}&*!|>%@`'\"\t\n #abc", max_size=6))
        return text[:position] + garbage + text[position:]
    if action == "delete":
        return text[:position] + text[position + data.draw(st.integers(1, 40)) :]
    if action == "truncate":
        return text[:position]
    lines = text.splitlines()
    index = min(position, len(lines) - 1)
    lines[index] = "  " + lines[index]
    return "\n".join(lines)


# Derandomized so that CI and every developer run the same examples: a property test that finds
# a different bug on each run would be a flaky test; widen max_examples locally to explore.
@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_projects_load_or_fail_with_located_errors(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(SOURCES))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(".liminal", "*.py", "*.pkl"))
        files = sorted(root.rglob("liminal.yml"))
        target = data.draw(st.sampled_from(files))
        text = target.read_text()
        if data.draw(st.booleans()):
            document = yaml.safe_load(text)
            for _ in range(data.draw(st.integers(1, 3))):
                document = mutate_data(document, data)
            text = yaml.safe_dump(document, sort_keys=False)
        else:
            text = mutate_text(text, data)
        target.write_text(text)
        try:
            project = load_project(root)
        except LiminalConfigError as error:
            assert error.errors
            for diagnostic in error.errors:
                assert diagnostic.file is not None, str(diagnostic)
                assert diagnostic.line is not None, str(diagnostic)
                assert diagnostic.message
        else:
            assert all(f.path.is_relative_to(root.resolve()) for f in project.files)

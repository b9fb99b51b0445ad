"""Reading one liminal.yml into plain Python values that remember where each key was written.

Mappings become `YamlMap` (a dict) and sequences `YamlList` (a list); both carry the `Location`
of themselves, of every key and of every value, so that any later stage (inheritance, checks,
pydantic validation) can point a user at the exact line and column. Scalars are the usual YAML
1.1 values (PyYAML's safe constructors, libyaml's fast composer when available).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from liminal_pulumi.dsl.diagnostics import KeyPath, Location, Reporter

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 200
# The YAML tags a liminal.yml may hold; any other (`!!python/object`, `!Ref`) is refused, not read.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map", "merge")
)
# Aliases share one value while parsing, but every later stage walks the values they expand to:
# a few lines of nested aliases ("billion laughs") would expand to billions.
_MAX_EXPANDED_VALUES = 1_000_000


class YamlMap(dict[str, Any]):
    """A mapping from a YAML file, with the location of itself, its keys and its values."""

    loc: Location
    key_locs: dict[str, Location]
    value_locs: dict[str, Location]

    def __init__(self, *args: Any, loc: Location | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc = loc or Location()
        self.key_locs = {}
        self.value_locs = {}

    def key_loc(self, key: str) -> Location:
        return self.key_locs.get(key) or self.loc.child(key)

    def value_loc(self, key: str) -> Location:
        return self.value_locs.get(key) or self.key_loc(key)

    def put(self, key: str, value: Any, source: YamlMap | None = None) -> None:
        """Set `key`, carrying over where it was written in `source` (default: here)."""
        self[key] = value
        if source is not None and source is not self:
            if key in source.key_locs:
                self.key_locs[key] = source.key_locs[key]
            if key in source.value_locs:
                self.value_locs[key] = source.value_locs[key]

    def derive(self, keys: Any = None) -> YamlMap:
        """A copy (optionally of some keys only) that keeps every location."""
        copy = YamlMap(loc=self.loc)
        for key in self if keys is None else keys:
            if key in self:
                copy.put(key, self[key], self)
        return copy


class YamlList(list[Any]):
    """A sequence from a YAML file, with the location of itself and of every item."""

    loc: Location
    item_locs: list[Location]

    def __init__(self, *args: Any, loc: Location | None = None) -> None:
        super().__init__(*args)
        self.loc = loc or Location()
        self.item_locs = []

    def item_loc(self, index: int) -> Location:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return self.loc.child(index)

    def append_from(self, value: Any, where: Location) -> None:
        self.append(value)
        self.item_locs.extend([self.loc.child(len(self) - 1)] * (len(self) - len(self.item_locs)))
        self.item_locs[len(self) - 1] = where


def location_of(value: Any) -> Location | None:
    return value.loc if isinstance(value, YamlMap | YamlList) else None


def to_plain(value: Any) -> Any:
    """Drop the location bookkeeping: plain dicts and lists for pass-through values."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


class _Builder:
    def __init__(self, file: Path, reporter: Reporter) -> None:
        self.file = file
        self.reporter = reporter
        self.scalars = SafeConstructor()
        self.done: dict[int, Any] = {}  # aliases share one value (no exponential expansion)
        self.active: set[int] = set()

    def where(self, node: Node, path: KeyPath) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1, path)

    def build(self, node: Node, path: KeyPath, depth: int = 0) -> Any:
        if id(node) in self.done:
            return self.done[id(node)]
        if depth > _MAX_DEPTH:
            self.reporter.error(
                self.where(node, path[:8]), f"values are nested more than {_MAX_DEPTH} levels deep"
            )
            return None
        if id(node) in self.active:
            self.reporter.error(self.where(node, path), "a YAML alias refers to itself")
            return None
        self.active.add(id(node))
        try:
            value = self._build(node, path, depth)
        finally:
            self.active.discard(id(node))
        if not isinstance(node, ScalarNode):
            self.done[id(node)] = value
        return value

    def _build(self, node: Node, path: KeyPath, depth: int) -> Any:
        if node.tag not in _CORE_TAGS:
            self.reporter.error(self.where(node, path), f"unsupported YAML tag `{node.tag}`")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            items = YamlList(loc=self.where(node, path))
            for index, item in enumerate(node.value):
                items.append_from(
                    self.build(item, (*path, index), depth + 1), self.where(item, (*path, index))
                )
            return items
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        self.reporter.error(self.where(node, path), "unsupported YAML node")
        return None

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        try:
            return self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            what = "date" if node.tag.endswith(":timestamp") else f"value ({node.tag})"
            reason = getattr(exc, "problem", None) or str(exc)
            self.reporter.error(self.where(node, path), f"invalid {what} `{node.value}`: {reason}")
            return node.value

    def mapping(self, node: MappingNode, path: KeyPath, depth: int) -> YamlMap:
        result = YamlMap(loc=self.where(node, path))
        merged: list[YamlMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_sources(value_node, path, depth))
                continue
            if not isinstance(key_node, ScalarNode):
                self.reporter.error(
                    self.where(key_node, path),
                    "a mapping key must be a plain name, not a mapping or a list",
                )
                continue
            key = str(key_node.value)
            key_loc = self.where(key_node, (*path, key))
            if key in result:
                first = result.key_locs[key]
                self.reporter.error(
                    key_loc, f"duplicate key `{key}` (first written at line {first.line})"
                )
                continue
            result[key] = self.build(value_node, (*path, key), depth + 1)
            result.key_locs[key] = key_loc
            result.value_locs[key] = self.where(value_node, (*path, key))
        for source in merged:  # `<<: *anchor`: explicit keys win
            for key in source:
                if key not in result:
                    result.put(key, source[key], source)
        return result

    def merge_sources(self, node: Node, path: KeyPath, depth: int) -> list[YamlMap]:
        value = self.build(node, path, depth + 1)
        sources = value if isinstance(value, list) else [value]
        good = [s for s in sources if isinstance(s, YamlMap)]
        if len(good) != len(sources):
            self.reporter.error(
                self.where(node, path), "`<<` must merge a mapping or a list of them"
            )
        return good


def parse_yaml_text(text: str, file: Path, reporter: Reporter) -> Any:
    """The single document in `text` as located values; problems go to `reporter`.

    Returns None when the text is not usable YAML (after reporting why).
    """
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        reporter.error(where, f"YAML syntax error: {problem}{context}")
        return None
    except yaml.YAMLError as exc:
        reporter.error(Location(file), f"YAML syntax error: {exc}")
        return None
    documents = [d for d in documents if d is not None]
    if not documents:
        reporter.error(Location(file, 1, 1), "the file is empty; expected a mapping with `name`")
        return None
    if len(documents) > 1:
        second = documents[1].start_mark
        reporter.error(
            Location(file, second.line + 1, second.column + 1),
            "a liminal.yml holds one YAML document; found another one here",
        )
    value = _Builder(file, reporter).build(documents[0], ())
    if _expanded_size(value, {}) > _MAX_EXPANDED_VALUES:
        reporter.error(
            Location(file, 1, 1),
            f"the file's YAML aliases expand to more than {_MAX_EXPANDED_VALUES:,} values",
        )
        return None
    return value


def _expanded_size(value: Any, sizes: dict[int, int]) -> int:
    """How many values `value` holds once aliases are expanded (shared values counted once each
    time they are referred to, computed once)."""
    if not isinstance(value, (dict, list)):
        return 1
    known = sizes.get(id(value))
    if known is None:
        children = value.values() if isinstance(value, dict) else value
        known = 1 + sum(_expanded_size(child, sizes) for child in children)
        sizes[id(value)] = known
    return known


def parse_yaml_file(file: Path, reporter: Reporter) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        reporter.error(Location(file), f"the file is not UTF-8 text ({exc.reason})")
        return None
    except OSError as exc:
        reporter.error(Location(file), f"cannot read the file: {exc.strerror or exc}")
        return None
    return parse_yaml_text(text, file, reporter)

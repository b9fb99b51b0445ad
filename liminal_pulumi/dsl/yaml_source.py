"""Reading one liminal.yml into plain Python values that remember where each key was written.

Mappings become `YamlMap` (a dict) and sequences `YamlList` (a list); both carry the `Location`
of themselves, of every key and of every value, so that any later stage (inheritance, checks,
pydantic validation) can point a user at the exact line and column. Scalars are the usual YAML
1.1 values (PyYAML's safe constructors, libyaml's fast composer when available); for a plain
(unquoted) scalar that YAML 1.1 reads as something other than text (`NO` -> false, `1.10` ->
1.1, `0755` -> 493) the text as written is kept too (`YamlMap.value_texts`), so that values
which are text to their consumer (environment variables, versions) stay what the user wrote.

Every input's cost is bounded before it is spent: the file's size (`MAX_FILE_BYTES`), its nesting
depth (checked on libyaml's event stream, which is iterative, before the composer, which
recurses in C and crashes the process on a file of 100,000 `[`), and the values its aliases
expand to.
"""

from __future__ import annotations

import errno
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from liminal_pulumi import defaults
from liminal_pulumi.dsl.diagnostics import KeyPath, Location, Reporter

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = defaults.MAX_YAML_DEPTH
_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z0-9._-]+\s*\}\}")
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
    # key -> the source text of a plain scalar YAML 1.1 read as a non-text value (`NO`, `1.10`)
    value_texts: dict[str, str]

    def __init__(self, *args: Any, loc: Location | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc = loc or Location()
        self.key_locs = {}
        self.value_locs = {}
        self.value_texts = {}

    def key_loc(self, key: str) -> Location:
        return self.key_locs.get(key) or self.loc.child(key)

    def value_loc(self, key: str) -> Location:
        return self.value_locs.get(key) or self.key_loc(key)

    def value_text(self, key: str) -> str | None:
        """The source text of `key`'s value when YAML read a plain scalar as a non-text value."""
        return self.value_texts.get(key)

    def put(self, key: str, value: Any, source: YamlMap | None = None) -> None:
        """Set `key`, carrying over where it was written in `source` (default: here)."""
        self[key] = value
        if source is not None and source is not self:
            if key in source.key_locs:
                self.key_locs[key] = source.key_locs[key]
            if key in source.value_locs:
                self.value_locs[key] = source.value_locs[key]
            if key in source.value_texts and source[key] is value:
                self.value_texts[key] = source.value_texts[key]
            else:
                self.value_texts.pop(key, None)

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
    # index -> source text of a plain scalar YAML 1.1 read as a non-text value (see YamlMap)
    item_texts: dict[int, str]

    def __init__(self, *args: Any, loc: Location | None = None) -> None:
        super().__init__(*args)
        self.loc = loc or Location()
        self.item_locs = []
        self.item_texts = {}

    def item_loc(self, index: int) -> Location:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return self.loc.child(index)

    def append_from(self, value: Any, where: Location) -> None:
        self.append(value)
        self.item_locs.extend([self.loc.child(len(self) - 1)] * (len(self) - len(self.item_locs)))
        self.item_locs[len(self) - 1] = where


def _source_text(node: Node, value: Any) -> str | None:
    """The text of a plain scalar that YAML 1.1 did not read as text (None otherwise)."""
    if isinstance(node, ScalarNode) and not node.style and not isinstance(value, str):
        return str(node.value)
    return None


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
                value = self.build(item, (*path, index), depth + 1)
                items.append_from(value, self.where(item, (*path, index)))
                text = _source_text(item, value)
                if text is not None:
                    items.item_texts[index] = text
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
            value = self.build(value_node, (*path, key), depth + 1)
            result[key] = value
            result.key_locs[key] = key_loc
            result.value_locs[key] = self.where(value_node, (*path, key))
            text = _source_text(value_node, value)
            if text is not None:
                result.value_texts[key] = text
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
    too_deep = _too_deep(text, file)
    if too_deep is not None:
        reporter.error(too_deep, f"values are nested more than {_MAX_DEPTH} levels deep")
        return None
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


def _too_deep(text: str, file: Path) -> Location | None:
    """Where `text` nests collections deeper than `_MAX_DEPTH`, found before anything recurses.

    A cheap bound comes first: block nesting needs indentation (depth <= 2 x the longest line)
    and flow nesting needs a bracket per level; only a text that could exceed the limit has its
    events counted (libyaml's parser keeps explicit stacks, it does not recurse). Syntax errors
    are left to the composer, which reports them located.
    """
    longest = max((len(line) for line in text.splitlines()), default=0)
    # `{{ name }}` placeholders hold no collection: each adds at most 2 levels, never nested.
    placeholders = len(_PLACEHOLDER.findall(text))
    brackets = text.count("[") + text.count("{") - 2 * placeholders + 2
    if 2 * longest + 2 + brackets <= _MAX_DEPTH:
        return None
    # One frame per open collection: [is_mapping, next key or index, expecting a key].
    frames: list[list[Any]] = []
    path: list[str | int] = []

    def consumed() -> None:  # a value (scalar, alias or whole collection) ended in the parent
        if frames:
            frame = frames[-1]
            if frame[0]:
                frame[2] = not frame[2]
            else:
                frame[1] += 1

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if frames:
                    path.append(frames[-1][1])
                if len(frames) >= _MAX_DEPTH:
                    mark = event.start_mark
                    if mark is None:
                        return Location(file, 1, 1, tuple(path[:8]))
                    return Location(file, mark.line + 1, mark.column + 1, tuple(path[:8]))
                frames.append([isinstance(event, yaml.MappingStartEvent), 0, True])
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                frames.pop()
                if path:
                    path.pop()
                consumed()
            elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                if frames and frames[-1][0] and frames[-1][2]:
                    frames[-1][1] = getattr(event, "value", "") or ""
                consumed()
    except yaml.YAMLError:
        return None
    return None


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
    """The located values of one liminal.yml; problems (not a regular file, too big, unreadable,
    not UTF-8, bad YAML) go to `reporter` and give None. Never blocks: a FIFO or a device named
    liminal.yml is refused from its file type, before it is opened."""
    kind = file_kind_problem(file)
    if kind is not None:
        reporter.error(Location(file), kind)
        return None
    try:
        with open(file, "rb") as stream:
            data = stream.read(defaults.MAX_DSL_FILE_BYTES + 1)
        if len(data) > defaults.MAX_DSL_FILE_BYTES:
            reporter.error(
                Location(file),
                f"the file is larger than {defaults.MAX_DSL_FILE_BYTES:,} bytes; "
                "a liminal.yml describes pipelines, it does not hold data",
            )
            return None
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reporter.error(Location(file), f"the file is not UTF-8 text ({exc.reason})")
        return None
    except OSError as exc:
        reporter.error(Location(file), f"cannot read the file: {exc.strerror or exc}")
        return None
    return parse_yaml_text(text, file, reporter)


def file_kind_problem(file: Path) -> str | None:
    """Why `file` cannot be read as a liminal.yml without risk (a FIFO would block forever, a
    device never end, a symlink loop never resolve), or None for a regular file."""
    try:
        mode = file.stat().st_mode  # follows symlinks: the target is what gets read
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "the file is a symbolic link loop; point it at a real file or remove it"
        return f"cannot read the file: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder is named like a liminal.yml; rename it"
    what = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"the file is {what}, not a regular file; a liminal.yml must be a plain text file"

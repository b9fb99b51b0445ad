"""`super` chains and the merge rules that turn a child liminal.yml into a complete one.

A chain runs child -> parent -> grandparent -> ... -> the built-in base. Parents are folded from
the base outwards (`merge_parents`), then applied to the child (`apply_parents`):

- `images` merge by `image`, `executors` by `executor` (also `volumes` by `volume` and `secrets`
  by `secret`); an entry the child redeclares is merged into the parent's, the child's keys win;
- `variables`, `task_defaults`, `service_defaults` and `pipeline_defaults` merge deeply, the
  child wins; lists are replaced, never concatenated;
- `pipeline_defaults.before_tasks` / `after_tasks` wrap every pipeline's tasks: the outermost
  parent's before_tasks come first and its after_tasks last;
- `pipeline_defaults.tasks` is a task template: a task of `type: pipeline` in it marks where a
  pipeline's own tasks go;
- `task_defaults.<type>` merges under every task of that type (the task's own values win);
- `service_defaults` merges under every service;
- every other key of a parent (owner, metrics, unknown keys) is inherited unless the child sets it.

Values keep the location where they were written, so a merged file still points users at the
parent file when the problem is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap

KEYED_SECTIONS = {
    "images": "image",
    "executors": "executor",
    "volumes": "volume",
    "secrets": "secret",
}
TEMPLATE_SLOT_TYPE = "pipeline"  # `type: pipeline` in a pipeline_defaults.tasks template


def builtin_base() -> YamlMap:
    """The parent every chain ends in: the default executors and the start/end tasks."""
    return YamlMap(
        {
            "name": "base",
            "type": "super",
            "executors": YamlList(
                [
                    YamlMap({"executor": defaults.DEFAULT_K8S_EXECUTOR, "type": "kubernetes"}),
                    YamlMap({"executor": defaults.DEFAULT_AIRFLOW_EXECUTOR, "type": "airflow"}),
                ]
            ),
            "pipeline_defaults": YamlMap(
                {
                    "before_tasks": YamlList(
                        [YamlMap({"task": defaults.BASE_START_TASK, "type": "job_start"})]
                    ),
                    "after_tasks": YamlList(
                        [YamlMap({"task": defaults.BASE_END_TASK, "type": "job_end"})]
                    ),
                }
            ),
        }
    )


def deep_merge(parent: Any, child: Any) -> Any:
    """`child` over `parent`: mappings merge key by key, anything else is the child's."""
    if not (isinstance(parent, Mapping) and isinstance(child, Mapping)):
        return child
    merged = _as_map(child).derive()
    parent_map = _as_map(parent)
    for key in parent_map:
        if key in merged:
            merged.put(key, deep_merge(parent_map[key], merged[key]), merged)
        else:
            merged.put(key, parent_map[key], parent_map)
    return merged


def merge_keyed(parent: Any, child: Any, key: str) -> Any:
    """Lists of mappings merged by their `key` (parent order first; child entries win)."""
    if not isinstance(parent, list):
        return child
    if not isinstance(child, list):
        return child if child is not None else parent
    merged = YamlList(loc=_loc_of(child))
    slots: dict[str, int] = {}
    for items in (parent, child):
        for index, item in enumerate(items):
            where = items.item_loc(index) if isinstance(items, YamlList) else merged.loc
            name = item.get(key) if isinstance(item, Mapping) else None
            if isinstance(name, str) and name in slots and items is child:
                position = slots[name]
                merged[position] = deep_merge(merged[position], item)
                merged.item_locs[position] = where
                continue
            if isinstance(name, str):
                slots.setdefault(name, len(merged))
            merged.append_from(item, where)
    return merged


def merge_parents(inner: YamlMap, outer: YamlMap) -> YamlMap:
    """A parent (`inner`) folded over its own, already folded, parent (`outer`)."""
    merged = _merge_common(inner, outer)
    inner_defaults = _as_map(inner.get("pipeline_defaults"))
    outer_defaults = _as_map(outer.get("pipeline_defaults"))
    pipeline_defaults = deep_merge(outer_defaults, inner_defaults)
    pipeline_defaults.put(
        "before_tasks",
        _concat(outer_defaults.get("before_tasks"), inner_defaults.get("before_tasks")),
    )
    pipeline_defaults.put(
        "after_tasks", _concat(inner_defaults.get("after_tasks"), outer_defaults.get("after_tasks"))
    )
    merged.put(
        "pipeline_defaults", pipeline_defaults, inner if "pipeline_defaults" in inner else None
    )
    return merged


def apply_parents(sub: YamlMap, parents: YamlMap) -> YamlMap:
    """A child file completed by its folded parents: what the model is validated from."""
    folded = merge_parents(sub, parents)
    pipeline_defaults = _as_map(folded.get("pipeline_defaults"))
    task_defaults = _as_map(folded.get("task_defaults"))
    service_defaults = _as_map(folded.get("service_defaults"))
    before = pipeline_defaults.get("before_tasks")
    after = pipeline_defaults.get("after_tasks")
    template = pipeline_defaults.get("tasks")
    shared = pipeline_defaults.derive(
        k for k in pipeline_defaults if k not in ("before_tasks", "after_tasks", "tasks")
    )

    pipelines = sub.get("pipelines")
    if isinstance(pipelines, list):
        merged_pipelines = YamlList(loc=_loc_of(pipelines))
        for index, pipeline in enumerate(pipelines):
            where = pipelines.item_loc(index) if isinstance(pipelines, YamlList) else None
            if isinstance(pipeline, Mapping):
                pipeline = _complete_pipeline(
                    _as_map(pipeline), shared, template, before, after, task_defaults
                )
            merged_pipelines.append_from(pipeline, where or merged_pipelines.loc.child(index))
        folded.put("pipelines", merged_pipelines, sub)

    services = sub.get("services")
    if isinstance(services, list) and service_defaults:
        merged_services = YamlList(loc=_loc_of(services))
        for index, service in enumerate(services):
            where = services.item_loc(index) if isinstance(services, YamlList) else None
            if isinstance(service, Mapping):
                service = deep_merge(service_defaults, service)
            merged_services.append_from(service, where or merged_services.loc.child(index))
        folded.put("services", merged_services, sub)
    return folded


def _complete_pipeline(
    pipeline: YamlMap,
    shared_defaults: YamlMap,
    template: Any,
    before: Any,
    after: Any,
    task_defaults: YamlMap,
) -> YamlMap:
    merged = deep_merge(shared_defaults, pipeline)
    own_tasks = pipeline.get("tasks")
    tasks = _fill_template(template, own_tasks) if isinstance(template, list) else own_tasks
    if tasks is None:
        tasks = YamlList(loc=pipeline.key_loc("tasks"))
    if not isinstance(tasks, list):
        return merged  # validation reports the wrong type
    all_tasks = YamlList(loc=_loc_of(tasks) if isinstance(tasks, YamlList) else pipeline.loc)
    for group in (before, tasks, after):
        if not isinstance(group, list):
            continue
        for index, task in enumerate(group):
            where = group.item_loc(index) if isinstance(group, YamlList) else all_tasks.loc
            if isinstance(task, Mapping):
                kind = task.get("type")
                by_type = task_defaults.get(kind) if isinstance(kind, str) else None
                if isinstance(by_type, Mapping):
                    task = deep_merge(by_type, task)
            all_tasks.append_from(task, where)
    merged.put("tasks", all_tasks, pipeline if "tasks" in pipeline else None)
    return merged


def _fill_template(template: list[Any], own_tasks: Any) -> Any:
    """The template with its `type: pipeline` slot replaced by the pipeline's own tasks."""
    has_slot = any(isinstance(t, Mapping) and t.get("type") == TEMPLATE_SLOT_TYPE for t in template)
    if own_tasks is not None and not has_slot:
        return own_tasks  # the pipeline's own list wins, as for any list
    if own_tasks is not None and not isinstance(own_tasks, list):
        return own_tasks
    filled = YamlList(loc=_loc_of(own_tasks) if own_tasks is not None else _loc_of(template))
    for index, task in enumerate(template):
        if isinstance(task, Mapping) and task.get("type") == TEMPLATE_SLOT_TYPE:
            for own_index, own in enumerate(own_tasks or []):
                own_where = (
                    own_tasks.item_loc(own_index) if isinstance(own_tasks, YamlList) else filled.loc
                )
                filled.append_from(own, own_where)
            continue
        where = template.item_loc(index) if isinstance(template, YamlList) else filled.loc
        filled.append_from(task, where)
    return filled


def _merge_common(inner: YamlMap, outer: YamlMap) -> YamlMap:
    merged = deep_merge(outer, inner)
    for section, key in KEYED_SECTIONS.items():
        if section in inner or section in outer:
            value = merge_keyed(outer.get(section), inner.get(section), key)
            merged.put(section, value, inner if section in inner else outer)
    for name in ("name", "type", "super"):
        if name in inner:
            merged.put(name, inner[name], inner)
        else:
            merged.pop(name, None)
    return merged


def _concat(first: Any, second: Any) -> YamlList:
    joined = YamlList(loc=_loc_of(second) if isinstance(second, YamlList) else _loc_of(first))
    for group in (first, second):
        if isinstance(group, list):
            for index, item in enumerate(group):
                where = group.item_loc(index) if isinstance(group, YamlList) else joined.loc
                joined.append_from(item, where)
    return joined


def _as_map(value: Any) -> YamlMap:
    if isinstance(value, YamlMap):
        return value
    if isinstance(value, Mapping):
        return YamlMap(value)
    return YamlMap()


def _loc_of(value: Any) -> Any:
    return value.loc if isinstance(value, YamlMap | YamlList) else None

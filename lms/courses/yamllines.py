"""YAML loading that remembers the line of every value, so errors can say `file:line`."""

from __future__ import annotations

import yaml

Path = tuple  # a path into the data: keys and list indexes


class YamlError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load(text: str, *, first_line: int = 1) -> tuple[object, dict[Path, int]]:
    """Parse one YAML document; return the data and {path: line} (1-based)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line if mark else 0) + first_line
        raise YamlError(line, f"not valid YAML: {exc.problem or exc}") from exc
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _build(node, (), lines, constructor, first_line), lines


def _build(node, path: Path, lines, constructor, offset: int):
    lines[path] = node.start_mark.line + offset
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise YamlError(key_node.start_mark.line + offset, "a key must be a plain value")
            if key in out:
                raise YamlError(key_node.start_mark.line + offset, f"duplicate key {key!r}")
            out[key] = _build(value_node, (*path, key), lines, constructor, offset)
            lines[(*path, key)] = key_node.start_mark.line + offset
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), lines, constructor, offset)
            for i, item in enumerate(node.value)
        ]
    return constructor.construct_object(node, deep=True)


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of `path`, or of its nearest ancestor that has one."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)

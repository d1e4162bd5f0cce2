"""Configuration trees that remember where each value came from (file and line).

Collector YAML is loaded with PyYAML's composer, which keeps a start mark on
every node; the tree here keeps those marks through an overlay merge that
follows the collector's `--config a.yaml --config b.yaml` semantics: maps are
merged key by key, recursively, and anything else (lists, scalars) from a
later file replaces the earlier value whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigError", "Loc", "Node", "load_yaml", "merge", "resolve_env_default"]


class ConfigError(Exception):
    """A file that cannot be read or parsed at all (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Loc:
    file: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class Node:
    """A map (dict of str to Node), a list of Nodes, or a scalar, with its location."""

    value: Any
    loc: Loc
    # Where the key that holds this node is written (map values only).
    key_loc: Loc | None = None
    # Duplicate keys met while loading this map: (key, location of the repeat).
    duplicates: list[tuple[str, Loc]] = field(default_factory=list)

    # -- shape ----------------------------------------------------------------

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    @property
    def at(self) -> Loc:
        """Best location to report: the key line when there is one."""
        return self.key_loc or self.loc

    # -- access ---------------------------------------------------------------

    def get(self, key: str) -> Node | None:
        if isinstance(self.value, dict):
            found = self.value.get(key)
            return found if isinstance(found, Node) else None
        return None

    def get_ci(self, key: str) -> Node | None:
        """Case-insensitive `get` (Fluent Bit keys are case-insensitive)."""
        if isinstance(self.value, dict):
            wanted = key.lower()
            for k, v in self.value.items():
                if isinstance(k, str) and k.lower() == wanted and isinstance(v, Node):
                    return v
        return None

    def path(self, *keys: str) -> Node | None:
        node: Node | None = self
        for key in keys:
            if node is None:
                return None
            node = node.get(key)
        return node

    def items(self) -> Iterator[tuple[str, Node]]:
        if isinstance(self.value, dict):
            for k, v in self.value.items():
                yield str(k), v

    def elements(self) -> Iterator[Node]:
        if isinstance(self.value, list):
            yield from self.value

    def scalar(self) -> Any:
        return None if self.is_map or self.is_list else self.value

    def text(self) -> str | None:
        """The scalar as text (env defaults resolved), or None for maps, lists and null."""
        value = self.scalar()
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return resolve_env_default(str(value))

    def strings(self) -> Iterator[str]:
        """Every scalar under this node, as text (for searching conditions)."""
        if isinstance(self.value, dict):
            for k, v in self.value.items():
                yield str(k)
                yield from v.strings()
        elif isinstance(self.value, list):
            for v in self.value:
                yield from v.strings()
        elif self.value is not None:
            yield str(self.value)

    def plain(self) -> Any:
        """The tree as plain Python data (locations dropped)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


# `${env:NAME:-default}`, `${NAME:-default}`, `${env:NAME}`, `${NAME}`
_ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_env_default(text: str) -> str:
    """Replace env references that have a default by the default.

    References without a default are left as they are: the linter judges the
    file, not one machine's environment.
    """

    def repl(match: re.Match[str]) -> str:
        default = match.group(2)
        return match.group(0) if default is None else default

    return _ENV_REF.sub(repl, text)


def has_unresolved_env(text: str) -> bool:
    return bool(_ENV_REF.search(text))


class _Constructor(yaml.SafeLoader):
    """Used only to construct scalar values with YAML's usual typing."""


def _scalar_value(node: yaml.ScalarNode) -> Any:
    constructor = _Constructor("")
    return constructor.construct_object(node, deep=True)


def _convert(node: yaml.Node, file: str) -> Node:
    loc = Loc(file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        result = Node(out, loc)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{file}:{line}: map keys must be scalars")
            key = str(_scalar_value(key_node))
            if key == "<<":  # YAML merge key: take the merged map's entries first
                merged = _convert(value_node, file)
                for mk, mv in merged.items():
                    out.setdefault(mk, mv)
                continue
            child = _convert(value_node, file)
            child.key_loc = Loc(file, key_node.start_mark.line + 1)
            if key in out:
                result.duplicates.append((key, child.key_loc))
            out[key] = child
        return result
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(item, file) for item in node.value], loc)
    if isinstance(node, yaml.ScalarNode):
        return Node(_scalar_value(node), loc)
    raise ConfigError(f"{loc}: unsupported YAML node")


def load_yaml(path: Path) -> Node:
    """Load one YAML document with locations; ConfigError when it can't be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, file: str) -> Node:
    try:
        composed = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if composed is None:
        return Node({}, Loc(file, 1))
    return _convert(composed, file)


def merge(base: Node, overlay: Node) -> Node:
    """Deep-merge `overlay` onto `base` like the collector's config resolver."""
    if base.is_map and overlay.is_map:
        out: dict[str, Node] = dict(base.value)
        for key, value in overlay.items():
            previous = out.get(key)
            out[key] = merge(previous, value) if previous is not None else value
        merged = Node(out, base.loc, overlay.key_loc or base.key_loc)
        merged.duplicates = [*base.duplicates, *overlay.duplicates]
        return merged
    return overlay

"""Reading a scenario: YAML files, ``--set`` overrides and error profiles, then validation.

`load_config` reads a file, applies ``--set`` overrides and returns a `Scenario`,
or raises `ConfigError` naming the file, every bad field and what was expected.
The schema itself lives in `_config`.
"""

from __future__ import annotations

import errno
import reprlib
import stat
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from ._config import Scenario
from ._errors import ConfigError

# A scenario is a few kilobytes; a megabyte is far more than any needs and little
# enough to read, parse and report on in one go.
MAX_CONFIG_BYTES = 1 << 20
# The schema nests five levels deep; 50 leaves room for YAML style and stays far
# from Python's recursion limit in YAML's composer and in validation.
MAX_DEPTH = 50
# Nodes once aliases are expanded: real configs have hundreds. An alias bomb (each
# anchor listing the previous one ten times) passes this within a few levels of
# its 1 KB instead of growing to gigabytes in validation and error messages.
MAX_NODES = 200_000
# Python refuses integers over 4,300 digits (a ValueError deep in YAML); no config
# value needs more than a few digits.
MAX_NUMBER_CHARS = 40

# Error messages quote bad values; this quotes at most a short excerpt of each.
_quote = reprlib.Repr()
_quote.maxstring = _quote.maxother = _quote.maxlong = 60
_quote.maxlist = _quote.maxdict = _quote.maxset = _quote.maxtuple = 4
_quote.maxlevel = 2


class _BoundedLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing input that would exhaust time, memory or the stack.

    Bounds nesting depth, the node count after expanding aliases and the length of
    numbers; duplicate keys in a mapping are an error instead of the last one winning.
    """

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name  # marks in error messages name the file
        self._depth = 0
        # Per node (by id; nodes live until loading ends): its size with aliases expanded.
        self._expanded: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is not None and id(node) not in self._expanded:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
            if isinstance(node, yaml.MappingNode):
                children = [child for pair in node.value for child in pair]
            size = 1 + sum(self._expanded[id(child)] for child in children)
            if size > MAX_NODES:
                raise ComposerError(
                    None,
                    None,
                    f"more than {MAX_NODES:,} values once aliases are expanded",
                    node.start_mark,
                )
            self._expanded[id(node)] = size
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen = set()
        for key_node, _ in node.value:
            # Merge keys (<<) may repeat and be overridden: that is what they are for.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {_quote.repr(key)}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _short_number(
    construct: Callable[[yaml.SafeLoader, yaml.ScalarNode], Any],
) -> Callable[[yaml.SafeLoader, yaml.ScalarNode], Any]:
    def construct_short(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise ConstructorError(
                None,
                None,
                f"a number of {len(node.value):,} characters; at most "
                f"{MAX_NUMBER_CHARS} are allowed",
                node.start_mark,
            )
        return construct(loader, node)

    return construct_short


for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
    _BoundedLoader.add_constructor(_tag, _short_number(yaml.SafeLoader.yaml_constructors[_tag]))


def _parse_yaml(text: str, name: str) -> Any:
    """Parse one YAML document with the bounds of `_BoundedLoader`; ``name`` is for marks."""
    loader = _BoundedLoader(text, name)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_yaml(path: Path, source: str | Path, field: str, what: str) -> Any:
    """The YAML document in ``path``, or a `ConfigError` of ``source``'s ``field``.

    ``what`` names the file in messages. Anything but a regular file is refused
    before it is opened, so a FIFO cannot block.
    """

    def refuse(problem: str) -> ConfigError:
        return ConfigError(source, [(field, f"{what} {problem}")])

    try:
        info = path.stat()
    except FileNotFoundError:
        raise refuse("not found") from None
    except OSError as exc:
        problem = (
            "is a symbolic link loop"
            if exc.errno == errno.ELOOP
            else f"cannot be read: {exc.strerror}"
        )
        raise refuse(problem) from None
    if stat.S_ISDIR(info.st_mode):
        raise refuse("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise refuse(f"is {kind}, not a regular file")
    try:
        with path.open("rb") as file:
            # Read one byte past the bound: the size may have changed since stat.
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise refuse(f"is larger than {MAX_CONFIG_BYTES:,} bytes; no scenario needs that much")
    try:
        return _parse_yaml(data.decode("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise refuse(f"is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise refuse(f"is not valid YAML: {exc}") from None


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file.

    Parameters
    ----------
    path:
        A YAML scenario file.
    overrides:
        ``"dotted.path=value"`` strings; the value is parsed as YAML. List items are
        addressed by index or, for lists of named items such as districts, by name.

    Raises
    ------
    ConfigError
        Naming the file, each bad field and what was expected.
    """
    path = Path(path)
    raw = _read_yaml(path, path, "(file)", "config file")
    if not isinstance(raw, dict):
        raise ConfigError(path, [("(file)", "expected a mapping of config keys at the top level")])
    for override in overrides:
        _apply_override(path, raw, override)
    return validate_config(raw, source=path)


def validate_config(raw: Mapping[str, Any], *, source: str | Path = "<config>") -> Scenario:
    """Validate an already parsed config mapping; see `load_config`.

    ``algorithm.error_profile`` names a file written by ``riskclass enroll``
    (relative to the config file); its ``error_rates`` are used, and entries of the
    config's own ``algorithm.error_rates`` override them.
    """
    raw = _with_error_profile(raw, source)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(error) for error in exc.errors()]) from None
    # Cross-references and sizes are checked after the fields so each problem keeps
    # its own path.
    problems = [*scenario.reference_problems(), *scenario.capacity_problems()]
    if problems:
        raise ConfigError(source, problems)
    return scenario


def _with_error_profile(raw: Mapping[str, Any], source: str | Path) -> Mapping[str, Any]:
    algorithm = raw.get("algorithm")
    if not isinstance(algorithm, dict) or "error_profile" not in algorithm:
        return raw
    field = "algorithm.error_profile"
    base = Path(source).parent if Path(source).is_file() else Path.cwd()
    path = base / str(algorithm["error_profile"])
    profile = _read_yaml(path, source, field, f"error profile {path}")
    if not isinstance(profile, dict) or not isinstance(profile.get("error_rates"), dict):
        raise ConfigError(source, [(field, f"{path} has no error_rates mapping")])
    merged = {k: v for k, v in algorithm.items() if k != "error_profile"}
    merged["error_rates"] = {**profile["error_rates"], **algorithm.get("error_rates", {})}
    return {**raw, "algorithm": merged}


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return field, "unknown key"
    if kind == "missing":
        return field, "required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind != "value_error" and "input" in error:
        message += f" (got {_quote.repr(error['input'])})"
    return field, message


def _apply_override(path: Path, raw: dict[str, Any], override: str) -> None:
    dotted, sep, text = override.partition("=")
    if not sep or not dotted:
        raise ConfigError(path, [(f"--set {override}", "expected path.to.key=value")])
    try:
        value = _parse_yaml(text, f"--set {dotted}")
    except yaml.YAMLError as exc:
        raise ConfigError(path, [(f"--set {dotted}", f"value is not valid YAML: {exc}")]) from None
    parts = dotted.split(".")
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        elif isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                raise ConfigError(
                    path, [(f"--set {where}", "no list item with that index or name")]
                )
            if last:
                node[index] = value
            else:
                node = node[index]
        else:
            raise ConfigError(
                path, [(f"--set {where}", f"cannot descend into {_quote.repr(node)}")]
            )


def _list_index(items: list[Any], part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if -len(items) <= index < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    return None

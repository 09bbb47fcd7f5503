"""Reading a scenario: YAML files, ``--set`` overrides and error profiles, then validation.

`load_config` reads a file, applies ``--set`` overrides and returns a `Scenario`,
or raises `ConfigError` naming the file, every bad field and what was expected.
The schema itself lives in `_config`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ._config import Scenario
from ._errors import ConfigError


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
    if not path.is_file():
        raise ConfigError(path, [("(file)", "config file not found")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("(file)", f"not valid YAML: {exc}")]) from None
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
    # Cross-references are checked after the fields so each problem keeps its own path.
    problems = list(scenario.reference_problems())
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
    if not path.is_file():
        raise ConfigError(source, [(field, f"error profile {path} not found")])
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [(field, f"{path} is not valid YAML: {exc}")]) from None
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
        message += f" (got {error['input']!r})"
    return field, message


def _apply_override(path: Path, raw: dict[str, Any], override: str) -> None:
    dotted, sep, text = override.partition("=")
    if not sep or not dotted:
        raise ConfigError(path, [(f"--set {override}", "expected path.to.key=value")])
    try:
        value = yaml.safe_load(text)
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
            raise ConfigError(path, [(f"--set {where}", f"cannot descend into {node!r}")])


def _list_index(items: list[Any], part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if -len(items) <= index < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    return None

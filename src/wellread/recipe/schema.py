"""Recipe files: YAML -> typed dataclasses, with every error naming the field path and its line.

A recipe is a mapping with `name`, `out` (the work folder), optional `description`, `model_name`, `language`,
`license`, `threads`, and `stages`: a list of mappings, each with `stage: TYPE` (see
`wellread.recipe.stages.STAGES`), an optional `name` (default: the type; unique), and that stage type's options
(the fields of its dataclass).
`${VAR}` and `${VAR:-default}` in strings are replaced from the environment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wellread.errors import WellreadError
from wellread.options import check_options, default_of, meta_of, recipe_fields

Path_ = tuple[str | int, ...]
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


class RecipeError(WellreadError):
    """An invalid recipe: each problem names its field path (and line, when read from a file)."""


@dataclass
class StageSpec:
    """One stage of a recipe: its type, unique name, typed options and the line it starts on."""

    type: str
    name: str
    options: Any
    line: int | None = None


@dataclass
class Recipe:
    """A whole recipe (see the module docstring)."""

    name: str
    out: Path
    stages: list[StageSpec]
    description: str = ""
    model_name: str | None = None
    language: str = "en"
    license: str = "apache-2.0"
    threads: int = 0
    """torch threads for every stage (0: torch's choice, the cores); 1 where other work holds cores."""
    source: str = "<recipe>"
    text: str = ""
    """The recipe as written (it goes into the model card)."""


class Lines:
    """Field path -> line number in the YAML text (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path_, int] = {}
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            root = None
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[(*path, key.value)] = key.start_mark.line + 1
                self._walk(value, (*path, key.value))
                self.lines[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def get(self, path: Path_) -> int | None:
        """The line of `path`, or of its closest enclosing field."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def path_text(path: Path_) -> str:
    """('stages', 2, 'lr') -> 'stages[2].lr'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class Problems:
    """Collects every problem of a recipe, then raises them together."""

    def __init__(self, lines: Lines | None, source: str) -> None:
        self.lines, self.source, self.items = lines, source, []

    def add(self, path: Path_, message: str) -> None:
        line = self.lines.get(path) if self.lines else None
        where = f"{self.source}:{line}: " if line else ""
        self.items.append(f"{where}{path_text(path)}: {message}")

    def raise_any(self) -> None:
        if self.items:
            raise RecipeError("invalid recipe:\n  " + "\n  ".join(self.items))


def expand_vars(value: Any) -> Any:
    """`${VAR}` / `${VAR:-default}` in every string of `value` (RecipeError for an unset VAR without default)."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) in os.environ:
                return os.environ[m.group(1)]
            if m.group(2) is None:
                raise RecipeError(f"environment variable {m.group(1)} is not set (write ${{{m.group(1)}:-default}})")
            return m.group(2)
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [expand_vars(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_vars(v) for k, v in value.items()}
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def convert(value: Any, tp: Any, path: Path_, problems: Problems) -> Any:
    """`value` checked against the type hint `tp` (None, bool, int, float, str, list[X], dict[str, X], unions);
    a lone value is accepted for a list, an int for a float and a date for a str."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            trial = Problems(None, "")
            result = convert(value, option, path, trial)
            if not trial.items:
                return result
        problems.add(path, f"expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
        return None
    if origin is list:
        (item_type,) = typing.get_args(tp)
        items = value if isinstance(value, list) else [value]
        return [convert(v, item_type, (*path, i), problems) for i, v in enumerate(items)]
    if origin is tuple:  # tuple[X, ...]
        items = value if isinstance(value, list) else [value]
        return tuple(convert(v, typing.get_args(tp)[0], (*path, i), problems) for i, v in enumerate(items))
    if origin is dict:
        key_type, item_type = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.add(path, f"expected a mapping, got {value!r}")
            return {}
        return {str(k): convert(v, item_type, (*path, k), problems) for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads 3e-5 (no dot) as a string
    if tp is str and isinstance(value, dt.date):
        return value.isoformat()
    if tp is Path and isinstance(value, str):
        return Path(value)
    if tp is Any or (isinstance(tp, type) and isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        return value
    problems.add(path, f"expected {_type_name(tp)}, got {value!r}")
    return value


def build_options(cls: type, data: dict[str, Any], path: Path_, problems: Problems,
                  ignore: tuple[str, ...] = (), keys: Callable[[type], list[dataclasses.Field]] = recipe_fields) -> Any:
    """An instance of dataclass `cls` from `data`: unknown fields (with a close match suggested), missing
    required fields, wrong types and values outside a field's `choices` metadata are reported at their path."""
    fields = {f.name: f for f in keys(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    known_before = len(problems.items)
    for key, value in data.items():
        if key in ignore:
            continue
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (fields: {', '.join(fields)})"
            problems.add((*path, key), f"unknown field{hint}")
            continue
        converted = convert(value, hints[key], (*path, key), problems)
        choices = meta_of(fields[key]).choices
        for item in converted if isinstance(converted, list) else [converted]:
            if choices and item is not None and item not in choices:
                problems.add((*path, key), f"must be one of {', '.join(map(str, choices))}, got {item!r}")
        kwargs[key] = converted
    for name, f in fields.items():
        if name not in kwargs and (default_of(f) is dataclasses.MISSING or meta_of(f).recipe_required):
            problems.add((*path, name), "is required")
    if len(problems.items) > known_before:
        return None
    options = cls(**kwargs)
    for field_name, message in check_options(options):
        problems.add((*path, field_name), message)
    return options


@dataclass
class _Top:
    name: str
    out: str
    stages: list[dict[str, Any]]
    description: str = ""
    model_name: str | None = None
    language: str = "en"
    license: str = "apache-2.0"
    threads: int = 0


def parse_recipe(text: str, option_types: dict[str, type], source: str = "<recipe>",
                 overrides: dict[str, Any] | None = None) -> Recipe:
    """A Recipe from YAML text; `option_types` maps a stage type to its options dataclass; `overrides` maps a
    dotted path (`out`, `STAGE_NAME.FIELD`) to a value set over the file's. RecipeError names every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}: " if mark else f"{source}: "
        raise RecipeError(f"{where}not valid YAML: {getattr(err, 'problem', err)}") from None
    lines = Lines(text)
    problems = Problems(lines, source)
    if not isinstance(data, dict):
        problems.add((), "a recipe is a mapping with name, out and stages")
        problems.raise_any()
    data = expand_vars(data)
    for key, value in (overrides or {}).items():
        if "." not in key:
            data[key] = value
    top = build_options(_Top, data, (), problems, keys=dataclasses.fields)
    stages: list[StageSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(data.get("stages") or []):
        path: Path_ = ("stages", i)
        if not isinstance(item, dict) or "stage" not in item:
            problems.add(path, f"each stage is a mapping with `stage: TYPE` (types: {', '.join(option_types)})")
            continue
        kind = item["stage"]
        if kind not in option_types:
            close = difflib.get_close_matches(str(kind), option_types, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.add((*path, "stage"), f"unknown stage type {kind!r}; {hint}types: {', '.join(option_types)}")
            continue
        name = str(item.get("name", kind))
        if not _NAME.fullmatch(name):
            problems.add((*path, "name"), f"{name!r}: a stage name is its folder's name: letters, digits, '.', '_', "
                                          "'-', not starting with '.'")
        if name in seen:
            problems.add((*path, "name"), f"stage name {name!r} is used twice: give each stage its own `name`")
        seen.add(name)
        values = dict(item)
        for key, value in (overrides or {}).items():
            if key.startswith(f"{name}."):
                values[key[len(name) + 1:]] = value
        options = build_options(option_types[kind], values, path, problems, ignore=("stage", "name"))
        stages.append(StageSpec(kind, name, options, lines.get(path)))
    if top is not None and not stages and not problems.items:
        problems.add(("stages",), "no stages: list at least one")
    problems.raise_any()
    return Recipe(name=top.name, out=Path(top.out), stages=stages, description=top.description,
                  model_name=top.model_name, language=top.language, license=top.license, threads=top.threads,
                  source=source, text=text)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` items -> {KEY: VALUE parsed as YAML} (so numbers and lists keep their types)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"--set {item!r}: expected KEY=VALUE, e.g. pretrain.batch_size=64")
        out[key.strip()] = yaml.safe_load(value)
    return out


def load_recipe(path: str | Path, option_types: dict[str, type], overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and validate a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"no such recipe file: {path}")
    return parse_recipe(path.read_text(encoding="utf-8"), option_types, str(path), overrides)

"""Derive argparse options from a typed dataclass config.

Each field becomes ``--field-name`` (or a positional argument when its metadata says
``positional=True``), typed from its annotation (``int``, ``float``, ``str``, ``bool`` as
``--x/--no-x``, ``Literal[...]`` as choices, ``list[str]`` as several values), with the
docstring under the field as its help. Options the user did not give are absent from the
namespace (``argparse.SUPPRESS``), so a YAML file can supply them and flags override it; values
from such a file are checked against the same annotations by :func:`check_types`.

One rule for every command (:func:`build_config`): a config class with a ``config`` field takes a
YAML file of its other fields there (read by :func:`config_values`: misspelled keys rejected with
close matches, types checked), and the options given on the command line override the file.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from simple_parsing.docstring import get_attribute_docstring

from simplestories_interp.errors import ConfigError, did_you_mean


def positional(**kwargs) -> Any:
    """A dataclass field given as a positional CLI argument."""
    return dataclasses.field(metadata={"positional": True}, **kwargs)


def _unwrap(tp):
    """``X | None`` -> X."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def _help(cls: type, name: str) -> str:
    doc = get_attribute_docstring(cls, name)
    return (doc.docstring_below or doc.comment_inline or doc.comment_above or "").strip()


def nested(default_factory, *, exclude: tuple[str, ...] = ()) -> Any:
    """A field holding another config (e.g. the SAEs of a study), given on the command line as
    ``--FIELD.SUB`` options; ``exclude`` names the sub-fields the owner sets itself (no option)."""
    return dataclasses.field(default_factory=default_factory, metadata={"nested": True, "exclude": exclude})


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _option(parser: argparse.ArgumentParser, cls: type, f: dataclasses.Field, tp, default, prefix: str = "") -> None:
    """One field as an option (or a positional argument) of ``parser``."""
    kwargs = {"help": _help(cls, f.name)}
    if default is not None and default != "":
        kwargs["help"] += f" (default: {default})"
    if typing.get_origin(tp) is Literal:
        kwargs["choices"] = list(typing.get_args(tp))
    elif typing.get_origin(tp) is list:
        item = typing.get_args(tp)[0]
        if typing.get_origin(item) is Literal:
            kwargs.update(nargs="+", choices=list(typing.get_args(item)))
        else:
            kwargs.update(nargs="+", type=item)
    elif tp is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["type"] = tp
    if f.metadata.get("positional"):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            kwargs["nargs"] = "?"
        parser.add_argument(f.name, default=argparse.SUPPRESS, **kwargs)
        if f.name == "model":  # one rule for every command: MODEL or --model
            parser.add_argument("--model", dest=MODEL_OPTION, metavar="MODEL", default=argparse.SUPPRESS, type=str,
                                help="the same as the positional MODEL")
        return
    name = prefix + f.name
    parser.add_argument("--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS, **kwargs)
    if name == "model":
        parser.add_argument(MODEL_OPTION, nargs="?", metavar="MODEL", default=argparse.SUPPRESS, type=str,
                            help="the same as --model")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.metadata.get("nested"):
            inner = _default(f)
            inner_hints = typing.get_type_hints(type(inner))
            for g in dataclasses.fields(inner):
                if g.init and g.name not in f.metadata["exclude"]:
                    _option(parser, type(inner), g, _unwrap(inner_hints[g.name]), getattr(inner, g.name),
                            prefix=f.name + ".")
            continue
        _option(parser, cls, f, _unwrap(hints[f.name]), _default(f))


def replace_nested(current, settings: dict):
    """``current`` (a nested config) with ``settings`` applied; its errors name the ``--FIELD.SUB`` options."""
    try:
        return dataclasses.replace(current, **settings)
    except TypeError as exc:  # an unknown sub-field
        known = [f.name for f in dataclasses.fields(current)]
        bad = next((k for k in settings if k not in known), "?")
        raise ConfigError(f"{type(current).__name__} has no setting {bad!r}." + did_you_mean(bad, known)) from exc


MODEL_OPTION = "model_elsewhere"
"""Where the second form of the model argument lands (``--model`` beside a positional MODEL, or the
positional beside ``--model``), merged into ``model`` by :func:`merge_model_forms`."""


def merge_model_forms(ns: argparse.Namespace) -> None:
    """Every command takes its model as ``MODEL`` or ``--model MODEL``; the two must not disagree."""
    other = vars(ns).pop(MODEL_OPTION, None)
    if other is None:
        return
    if getattr(ns, "model", other) != other:
        raise ConfigError(f"the model is given twice ({ns.model!r} and {other!r}); give it once, as MODEL or "
                          "--model MODEL")
    ns.model = other


def given(ns: argparse.Namespace, cls: type) -> dict:
    """The dataclass fields the user gave on the command line (a nested config with its options applied)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(ns).items() if k in fields}
    for name, f in fields.items():
        sub = {k.split(".", 1)[1]: v for k, v in vars(ns).items() if k.startswith(name + ".")}
        if f.metadata.get("nested") and sub:
            try:
                values[name] = replace_nested(_default(f), sub)
            except ConfigError as exc:  # the nested config's own check names its flags without the prefix
                raise ConfigError(re.sub(r"--(?=[a-z])", f"--{name}.", str(exc))) from exc
    return values


def _conforms(tp, value) -> tuple[bool, Any]:
    """Whether ``value`` is of annotation ``tp`` (an int counts as a float), and the value to use."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, converted = _conforms(arg, value)
            if ok:
                return True, converted
        return False, value
    if tp is type(None):
        return value is None, value
    if origin is Literal:
        return value in args, value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        items = [_conforms(args[0], v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, tp), value


def _looks_numeric(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def check_types(cls: type, values: dict) -> dict:
    """``values`` (e.g. read from YAML) checked against ``cls``'s field annotations.

    A value of the wrong type raises :class:`ConfigError` naming the key, the value and the
    expected type; ints are accepted (and converted) where a float is expected.
    """
    hints, out = typing.get_type_hints(cls), {}
    for key, value in values.items():
        ok, out[key] = _conforms(hints[key], value)
        if not ok:
            tp = hints[key]
            expected = tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
            hint = " (YAML reads 3e-3 without a dot as text: write 3.0e-3)" if _looks_numeric(value) else ""
            raise ConfigError(f"config key {key!r} must be {expected}, got {value!r} "
                              f"({type(value).__name__}){hint}")
    return out


def _config_text(path: Path) -> str:
    """The text of a YAML config: UTF-8, or UTF-16 with its byte-order mark (what Windows editors and
    PowerShell's ``>`` write)."""
    if path.is_dir():
        raise ConfigError(f"--config {str(path)!r} is a folder; give the YAML file, e.g. --config {path / 'run.yaml'}")
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "save it as UTF-8 (e.g. iconv -t utf-8)") from exc


def config_values(cls: type, path: str | Path | None, overrides: dict) -> dict:
    """The field values of ``cls`` from a YAML file (optional) with ``overrides`` on top, keys
    checked against the fields (close matches suggested) and values against their annotations."""
    values: dict = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(_config_text(Path(path))) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys to values")
        values.update({str(k).replace("-", "_"): v for k, v in loaded.items()})
    values.update(overrides)
    known = [f.name for f in dataclasses.fields(cls)  # a command's own options (--resume) are not file keys
             if f.init and f.name != "config" and not f.metadata.get("command_only")]
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key {key!r}." + did_you_mean(key, known))
    return check_types(cls, values)


def build_config(cls: type, ns: argparse.Namespace):
    """The config of a command from its parsed options: every command by the same rule (a ``config``
    field names a YAML file of the other fields; options given override it)."""
    values = given(ns, cls)
    path = values.pop("config", None)
    if not any(f.name == "config" for f in dataclasses.fields(cls)):
        return cls(**values)
    own = {f.name: values.pop(f.name) for f in dataclasses.fields(cls)  # --resume: the command's, not the file's
           if f.metadata.get("command_only") and f.name in values}
    config = {"config": path} if path is not None else {}
    return cls(**config_values(cls, path, values), **config, **own)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_numbers(config) -> None:
    """Every number of ``config``: finite, whole where the field is an int, and within 64 bits."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        whole = "int" in str(f.type) and "float" not in str(f.type)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if isinstance(item, float) and math.isinf(item):
                raise ConfigError(f"{_flag(f.name)} must be a finite number, got {item!r}")
            if whole and isinstance(item, float) and item == item and item != int(item):
                raise ConfigError(f"{_flag(f.name)} must be a whole number, got {item!r}")
            if isinstance(item, int) and abs(item) >= 2**63:
                raise ConfigError(f"{_flag(f.name)} must be below 2**63, got {item}")


def check_ranges(config, *, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 fraction: tuple[str, ...] = (), below_one: tuple[str, ...] = ()) -> None:
    """Refuse out-of-range numbers in ``config`` (called from each config's ``__post_init__``, so the
    CLI and the Python API give the same error): ``positive`` fields must be >= 1 (ints) or > 0
    (floats), ``non_negative`` ones >= 0, ``fraction`` ones in [0, 1], ``below_one`` ones in [0, 1)
    (Adam's betas). ``None`` means "default" and is left alone; a list is checked item by item.
    Every number of the config, named here or not, must also be finite, whole for int fields, and
    below 2**63."""
    _check_numbers(config)
    rules = [(positive, "positive", lambda v: v > 0), (non_negative, "zero or more", lambda v: v >= 0),
             (fraction, "between 0 and 1", lambda v: 0 <= v <= 1),
             (below_one, "at least 0 and below 1", lambda v: 0 <= v < 1)]
    for names, rule, ok in rules:
        for name in names:
            value = getattr(config, name)
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    raise ConfigError(f"{_flag(name)} must be a number, got {item!r} ({type(item).__name__})")
                if not ok(item) or item != item:  # item != item: NaN
                    help_text = _help(type(config), name)
                    raise ConfigError(f"{_flag(name)} must be {rule}, got {item!r}"
                                      + (f" ({help_text.rstrip('.')})" if help_text else ""))

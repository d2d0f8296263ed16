"""Derive argparse options from a typed dataclass config.

Each field becomes ``--field-name`` (or a positional argument when its metadata says
``positional=True``), typed from its annotation (``int``, ``float``, ``str``, ``bool`` as
``--x/--no-x``, ``Literal[...]`` as choices, ``list[str]`` as several values), with the
docstring under the field as its help. Options the user did not give are absent from the
namespace (``argparse.SUPPRESS``), so a YAML file can supply them and flags override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal

from simple_parsing.docstring import get_attribute_docstring


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


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, kwargs = _unwrap(hints[f.name]), {"help": _help(cls, f.name)}
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
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
            if default is not None:
                kwargs["nargs"] = "?"
            parser.add_argument(f.name, default=argparse.SUPPRESS, **kwargs)
        else:
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=argparse.SUPPRESS, **kwargs)


def given(ns: argparse.Namespace, cls: type) -> dict:
    """The dataclass fields the user gave on the command line."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(ns).items() if k in names}

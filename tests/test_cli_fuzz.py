"""A fuzz test of the CLI: invalid numbers, paths, names and choices over every subcommand's options.

The mutations are generated from each command's typed config (the same dataclasses the CLI is
derived from), so a new option is fuzzed as soon as it exists. Every generated command must fail
the way the error contract says: exit 2, one ``ssi: error:`` line, no traceback, quickly (a
command that starts real work on a bad value would blow the time limit). A daily slice keeps the
test to about a minute and rotates: the mutations are shuffled once (seed 0) and cut into at most
seven slices, and the day (or ``SSI_FUZZ_DAY=N``, to rerun a failure) picks the slice, so every
mutation runs within a week of daily CI; ``SSI_FUZZ_ALL=1`` runs every mutation.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import random
import time
import types
import typing

import pytest

from simplestories_interp.cli import COMMANDS, main

MISSING_PATH = "/nonexistent/ssi-fuzz/x"
NAMED = {  # string options whose value names something that must exist
    "model": ["SimpleStoriez-5M", MISSING_PATH], "name": ["SimpleStoriez-5M"], "head_model": ["SimpleStoriez-1L"],
    "neuron_model": [MISSING_PATH], "init_from": [MISSING_PATH], "hook": ["blocks.99.hook_nothing"],
    "data": [MISSING_PATH + ".txt", "synthetic:-3"], "eval_data": [MISSING_PATH + ".jsonl"],
    "path": [MISSING_PATH], "store": [MISSING_PATH], "tokenizer": [MISSING_PATH],
    "config": [MISSING_PATH + ".yaml", "{folder}"],
    "device": ["tpu9"], "dtype": ["int3"],
}
SKIP = {"text", "prompt", "samples", "wandb_project", "directory"}  # any text is valid there


def _values(cls: type, field: dataclasses.Field, file: str, folder: str) -> list[str]:
    tp = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if typing.get_origin(tp) in (typing.Union, types.UnionType) else tp
    origin = typing.get_origin(base)
    if field.name in SKIP or base is bool:
        return []
    if field.name == "out":
        return ["", file] if cls.__name__ not in ("NeuronConfig", "SAEFeaturesConfig") else [folder]
    if field.name in NAMED:
        return NAMED[field.name]
    if origin is typing.Literal or (origin is list and typing.get_origin(typing.get_args(base)[0]) is typing.Literal):
        return ["not-a-choice"]
    item = typing.get_args(base)[0] if origin is list else base
    if item is int:
        return ["-1", "-7", "abc", "2.5", "99999999999999999999"]
    if item is float:
        return ["-1", "nan", "abc"]
    if item is str and field.name == "hooks":
        return ["blocks.99.hook_nothing"]
    return []


def mutations(file: str, folder: str) -> list[tuple[str, list[str]]]:
    """(id, argv) for every command, option and invalid value, plus an unknown option per command."""
    cases = []
    for name, (config, _) in COMMANDS.items():
        command = name.split(" ")
        fields = [(config, f, "") for f in dataclasses.fields(config) if not f.metadata.get("nested")]
        for f in dataclasses.fields(config):  # a nested config's options: --sae.k, ...
            if f.metadata.get("nested"):
                inner = f.default_factory()
                fields += [(type(inner), g, f.name + ".") for g in dataclasses.fields(inner)
                           if g.init and g.name not in f.metadata["exclude"]]
        positional = [f for _, f, _ in fields if f.metadata.get("positional") and f.default is dataclasses.MISSING]
        needed = ["/tmp"] if positional else []  # a required positional, so the mutation is what fails
        for cls, field, prefix in fields:
            for value in _values(cls, field, file, folder):
                if field.metadata.get("positional"):
                    argv = [*command, value]
                else:
                    argv = [*command, *needed, "--" + (prefix + field.name).replace("_", "-"), value]
                cases.append((f"{name}:{prefix}{field.name}={value!r}", argv))
        cases.append((f"{name}:unknown-option", [*command, *needed, "--no-such-option", "1"]))
    return cases


def today() -> int:
    return int(os.environ.get("SSI_FUZZ_DAY") or datetime.date.today().toordinal())


def _sample(cases: list, day: int | None = None) -> list:
    """The slice of ``cases`` for ``day`` (default: today): every case within seven days."""
    if os.environ.get("SSI_FUZZ_ALL") == "1":
        return cases
    order = random.Random(0).sample(cases, len(cases))
    size = max(70, math.ceil(len(cases) / 7))
    slices = math.ceil(len(cases) / size)
    start = ((today() if day is None else day) % slices) * size
    return order[start:start + size]


ALL = mutations("{file}", "{folder}")


@pytest.mark.parametrize("case,argv", _sample(ALL), ids=[c[0] for c in _sample(ALL)])
def test_invalid_input_is_one_line_exit_2(capsys, tmp_path, monkeypatch, case, argv):
    monkeypatch.chdir(tmp_path)  # default output folders land here
    (tmp_path / "a_file").write_text("x")
    argv = [a.replace("{file}", str(tmp_path / "a_file")).replace("{folder}", str(tmp_path)) for a in argv]
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    errors = [line for line in err.replace("\r", "\n").split("\n") if "ssi: error:" in line]
    assert code == 2, f"{argv} exited {code}: {err[-500:]}"
    assert len(errors) == 1 and "Traceback" not in err, err
    assert seconds < 30, f"{argv} took {seconds:.0f} s before refusing"


def test_every_command_is_fuzzed():
    fuzzed = {case.split(":")[0] for case, _ in ALL}
    assert fuzzed == set(COMMANDS)
    assert len(ALL) > 150


def test_the_daily_slice_rotates_through_every_case_in_a_week(monkeypatch):
    """It used to be the same 70 cases every run (random.Random(0)); print the day to rerun a failure."""
    monkeypatch.delenv("SSI_FUZZ_ALL", raising=False)
    week = [_sample(ALL, day) for day in range(today(), today() + 7)]
    assert {case for case, _ in sum(week, [])} == {case for case, _ in ALL}
    assert week[0] != week[1] and all(len(s) <= max(70, math.ceil(len(ALL) / 7)) for s in week)
    print(f"fuzz slice of day {today()} (rerun it with SSI_FUZZ_DAY={today()})")

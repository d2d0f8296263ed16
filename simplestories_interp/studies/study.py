"""The one skeleton every study runs through (``ssi reproduce NAME``).

A study is four functions: ``check`` refuses bad settings before any work (names of the models it
will load, sources, hooks), ``measure`` computes every number into a JSON-able dict (it may write
artifacts it reuses, such as SAEs, into the folder), and ``summary`` and ``index`` render
``summary.txt`` and ``index.html`` from that dict alone (``files``, if given, renders further pages
and JSON files from it too). :func:`run_study` claims the folder,
picks the device and writes ``results.json``, ``summary.txt`` and ``index.html`` through a
temporary file and a rename; :func:`rebuild_pages` renders them again from a saved
``results.json`` (no model, seconds), which is what the page tests and a reader changing a page do.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from simplestories_interp.dataclass_args import replace_nested
from simplestories_interp.devices import pick_device
from simplestories_interp.errors import MissingDirectoryError
from simplestories_interp.files import atomic_write_text, claim_output
from simplestories_interp.render import views

RESULTS = "results.json"


@dataclass(frozen=True)
class Study:
    """What a study does, as data (see the module docstring)."""

    name: str
    check: Callable[[object], None]
    measure: Callable[[object, Path, torch.device], dict]
    summary: Callable[[dict], str]
    index: Callable[[dict], str]
    files: Callable[[dict], dict[str, str]] = lambda results: {}
    """Further pages and JSON files by name, rendered from the results as well."""
    shared_js: bool = False
    """Whether the pages load plotly and circuitsvis from one copy in the folder."""


def run_study(study: Study, cfg) -> Path:
    """Run ``study`` as ``cfg`` says (``cfg.out``, ``cfg.device``); return the output folder."""
    study.check(cfg)
    with claim_output(cfg.out, "report") as out:
        results = study.measure(cfg, out, pick_device(cfg.device))
        write_pages(out, results, study)
    return out


def write_pages(out: Path, results: dict, study: Study) -> None:
    """``results.json`` and the pages rendered from it, each written atomically."""
    atomic_write_text(out / RESULTS, json.dumps(results, indent=1))
    if study.shared_js:
        views.write_shared_js(out)
    for name, text in study.files(results).items():
        atomic_write_text(out / name, text)
    atomic_write_text(out / "summary.txt", study.summary(results))
    views.write(out / "index.html", study.index(results))


def rebuild_pages(folder: str | Path, study: Study) -> Path:
    """Render ``summary.txt`` and ``index.html`` of a finished study again from its ``results.json``."""
    folder = Path(folder)
    if not (folder / RESULTS).is_file():
        raise MissingDirectoryError(f"{str(folder)!r} holds no {RESULTS}: run `ssi reproduce {study.name}` first")
    write_pages(folder, json.loads((folder / RESULTS).read_text()), study)
    return folder


def config_record(cfg) -> dict:
    """``cfg`` as JSON-able data for ``results.json``, without the nested settings the study sets itself
    (an SAE's model, folder, evaluation data, ...: their defaults were not what ran)."""
    record = dataclasses.asdict(cfg)
    for f in dataclasses.fields(cfg):
        for name in f.metadata.get("exclude", ()):
            record[f.name].pop(name, None)
    return record


def with_settings(cfg, default: type, settings: dict):
    """``cfg`` (or ``default()``) with keyword ``settings`` applied: the Python API of every study. A
    dict for a nested config updates it (``sae={"k": 8}`` keeps the study's other SAE settings)."""
    cfg = cfg or default()
    nested = {k: replace_nested(getattr(cfg, k), v) for k, v in settings.items()
              if isinstance(v, dict) and dataclasses.is_dataclass(getattr(cfg, k, None))}
    return dataclasses.replace(cfg, **{**settings, **nested})

"""The study skeleton: pages rebuild from results.json alone (fast, no model), and the tiny runs of the
slow tests give the numbers they gave before the studies moved onto the skeleton (fixtures/, written by
the report/ layout of 2026-12-04 with the settings of test_context_length.TINY and test_norm_free)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from simplestories_interp.cli import COMMANDS
from simplestories_interp.errors import MissingDirectoryError
from simplestories_interp.studies import context_length, norm_free
from simplestories_interp.studies.registry import STUDIES
from simplestories_interp.studies.study import rebuild_pages

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [(context_length.STUDY, "context_length_results.json"), (norm_free.STUDY, "norm_free_results.json")]


def same_numbers(a, b, path: str = "") -> list[str]:
    """Where two results differ (numbers within a relative 1e-4: thread counts reorder float sums)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for k in sorted(keys) for d in (same_numbers(a.get(k), b.get(k), f"{path}.{k}")
                                                  if k in a and k in b else [f"{path}.{k} only on one side"])]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same_numbers(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        ok = a is not None and b is not None and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
        return [] if ok else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def matches_fixture(folder: Path, fixture: str) -> list[str]:
    before, after = (json.loads(p.read_text()) for p in (FIXTURES / fixture, folder / "results.json"))
    for r in (before, after):
        r["config"].pop("out")
    return same_numbers(before, after)


@pytest.mark.parametrize("study,fixture", CASES, ids=[c[0].name for c in CASES])
def test_pages_rebuild_from_results_alone(tmp_path, study, fixture):
    shutil.copy(FIXTURES / fixture, tmp_path / "results.json")
    rebuild_pages(tmp_path, study)
    results = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "summary.txt").read_text() == study.summary(results)
    page = (tmp_path / "index.html").read_text()
    assert "content='simplestories_interp'" in page and not re.search(r"src=[\"']https?://", page)  # offline
    first_finding = next(line for line in study.summary(results).splitlines() if line.startswith("- "))
    numbers = re.findall(r"\d+\.\d{3}", first_finding)
    assert numbers and all(n in page for n in numbers[:3])  # the page shows the measured numbers
    with pytest.raises(MissingDirectoryError, match="no results.json"):
        rebuild_pages(tmp_path / "empty", study)


def test_every_study_is_a_reproduce_command():
    assert {f"reproduce {name}" for name in STUDIES} <= set(COMMANDS)
    assert [k for k in COMMANDS if k.startswith("reproduce ")] == [f"reproduce {n}" for n in STUDIES]


def test_the_comparison_catches_a_changed_number():
    fixture = json.loads((FIXTURES / "norm_free_results.json").read_text())
    changed = json.loads(json.dumps(fixture))
    changed["loss"]["rms"] *= 1.01
    assert same_numbers(fixture, fixture) == [] and same_numbers(fixture, changed) == [
        f".loss.rms: {fixture['loss']['rms']} vs {changed['loss']['rms']}"]


@pytest.mark.parametrize("study,fixture", CASES, ids=[c[0].name for c in CASES])
def test_results_from_before_the_sae_settings_were_nested_still_rebuild(tmp_path, study, fixture):
    results = json.loads((FIXTURES / fixture).read_text())
    results["config"].update(results["config"].pop("sae"))  # the flat layout of the first studies/ release
    (tmp_path / "results.json").write_text(json.dumps(results))
    rebuild_pages(tmp_path, study)
    assert f"k={results['config']['k']}" in (tmp_path / "summary.txt").read_text()


def test_separator_applies_to_a_studys_sae_data(tmp_path):
    from simplestories_interp.cli import _apply_separator, build_parser

    ns = build_parser().parse_args(["reproduce", "context-length", "--sae.data", str(tmp_path / "s.txt"),
                                    "--separator", "###"])
    (tmp_path / "s.txt").write_text("one\n###\ntwo")
    _apply_separator(ns)
    assert getattr(ns, "sae.data") == f"{tmp_path / 's.txt'}::sep=###"

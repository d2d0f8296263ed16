"""The README's quick SAE example, exactly as written, gives a usable SAE (issue 25: it saved one with
L0 1266 for k = 32 and explained variance -0.63, because the BatchTopK threshold was not the trained one)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from simplestories_interp.cli import main

README = Path(__file__).parents[2] / "README.md"


def readme_command(prefix: str) -> list[str]:
    """The README's quickstart command starting with ``prefix`` (continuation lines joined, comment dropped)."""
    text = README.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return shlex.split(line, comments=True)[1:]


@pytest.mark.slow
def test_readme_sae_example_is_usable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache, train = readme_command("ssi cache "), readme_command("ssi sae train ")
    assert main(cache) == 0 and main(train) == 0
    k = int(train[train.index("--k") + 1])
    metrics = json.loads((tmp_path / train[train.index("--out") + 1] / "metrics.json").read_text())
    assert metrics["l0"] <= 2 * k and metrics["explained_variance"] >= 0.5, metrics
    comment = re.search(r"L0 ~(\d+), explained variance ~([\d.]+)", README.read_text())
    assert comment and abs(float(comment[1]) - metrics["l0"]) < 5 and abs(float(comment[2]) - metrics[
        "explained_variance"]) < 0.1  # the README's comment quotes a run

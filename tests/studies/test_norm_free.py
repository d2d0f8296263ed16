"""The norm-free study end to end on a tiny setting: every measure for both models, offline page, reuse."""

import json
import re

import pytest

from simplestories_interp.cli import main
from simplestories_interp.errors import ConfigError
from simplestories_interp.studies.config import NormFreeConfig
from simplestories_interp.studies.norm_free import norm_free_study
from tests.studies.test_study import matches_fixture

pytestmark = pytest.mark.slow

TINY = [
    "--stories",
    "12",
    "--neuron-stories",
    "6",
    "--head-stories",
    "4",
    "--sae.tokens",
    "8192",
    "--sae.expansion",
    "2",
    "--sae.k",
    "8",
    "--device",
    "cpu",
]


def test_study_measures_both_models_and_writes_offline_pages(tmp_path):
    out = norm_free_study(
        out=str(tmp_path / "nf"),
        stories=12,
        neuron_stories=6,
        head_stories=4,
        sae={"tokens": 8192, "expansion": 2, "k": 8},
        device="cpu",
    )
    r = json.loads((out / "results.json").read_text())
    assert matches_fixture(out, "norm_free_results.json") == []  # the numbers of the report/ layout
    assert r["models"] == {"rms": "SynthStories-1.25M", "none": "SynthStories-1.25M-noLN"}
    assert abs(r["loss"]["rms"] - r["loss"]["none"]) < 0.05
    assert max(e["relative_error"] for e in r["attribution"]["none"].values()) < 1e-4
    assert min(e["relative_error"] for e in r["attribution"]["rms"].values()) > 1e-3
    for kind in ("rms", "none"):
        assert 0 < r["saes"][kind]["alive"] <= r["saes"][kind]["d_sae"]
        assert 0 <= r["saes"][kind]["mean_f1"] <= 1 and r["saes"][kind]["explained_variance"] is not None
        assert [n["hook"] for n in r["neurons"][kind]] == [f"blocks.{i}.mlp.hook_post" for i in range(4)]
        assert len(r["probes"][kind]) == 5
        first = next(iter(r["probes"][kind].values()))
        assert set(first["labels"]) == {"theme", "topic", "style", "feature"}
        assert set(r["probes"]["semantic_roles"]) <= set(first["roles"])
        assert len(r["heads"][kind]) == 8
    index = (out / "index.html").read_text()
    assert "Plotly.newPlot" in index and not re.search(r"<script[^>]*src=[\"']?https?:", index)
    summary = (out / "summary.txt").read_text()
    assert (
        "Direct logit attribution" in summary and "Linear probes" in summary and "Heads of the 1-layer pair" in summary
    )
    weights = out / "saes" / "rms" / "sae_weights.safetensors"
    before = weights.stat().st_mtime_ns
    assert main(["reproduce", "norm-free", "--out", str(out), "--head-model", "none", *TINY]) == 0
    assert weights.stat().st_mtime_ns == before
    assert json.loads((out / "results.json").read_text())["heads"] is None


def test_bad_settings_are_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="normalised model"):
        NormFreeConfig(model="SynthStories-1.25M-noLN")
    assert main(["reproduce", "norm-free", "--out", str(tmp_path / "x"), "--data", "tinystories.txt"]) == 2
    assert "synthetic" in capsys.readouterr().err
    assert main(["reproduce", "norm-free", "--out", str(tmp_path / "y"), "--sae.hook", "blocks.9.hook_resid_pre"]) == 2

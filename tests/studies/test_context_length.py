"""The context-length study end to end on a tiny setting: every number present, pages offline, reuse."""

import json
import re

import pytest

from simplestories_interp.cli import main
from simplestories_interp.errors import ConfigError
from simplestories_interp.studies.config import ContextLengthConfig
from simplestories_interp.studies.context_length import context_length_study
from tests.studies.test_study import matches_fixture

pytestmark = pytest.mark.slow

TINY = dict(short_models=["SynthStories-1.25M-long-ctx64"], windows=[64, 512],
            sae={"tokens": 8192, "expansion": 2, "k": 8}, eval_stories=4, sae_eval_stories=3, device="cpu")


def test_study_writes_every_number_and_offline_pages(tmp_path):
    out = context_length_study(out=str(tmp_path / "cl"), **TINY)
    results = json.loads((out / "results.json").read_text())
    assert matches_fixture(out, "context_length_results.json") == []  # the numbers of the report/ layout
    assert results["buckets"] == ["0-63", "64-127", "128-255", "256-511"]
    assert set(results["loss"]) == {"SynthStories-1.25M-long", "SynthStories-1.25M-long-ctx64"}
    for r in results["loss"].values():
        assert len(r["curve"]) == 511 and len(r["by_bucket"]) == 4 and len(r["mentions"]) == 4
    assert set(results["sae_metrics"]) == {"64", "512"}
    for metrics in results["sae_metrics"].values():
        assert [m["tokens"] for m in metrics] == [3 * 64, 3 * 64, 3 * 128, 3 * 256]
        assert all(0 <= m["dead_fraction"] <= 1 and m["l0"] > 0 for m in metrics)
    assert results["lengths"]["synthetic-long"]["p50"] > results["lengths"]["synthetic"]["p50"]
    assert results["late_feature_count"] == len(results["late_features"])
    index = (out / "index.html").read_text()
    assert "Plotly.newPlot" in index and not re.search(r"<script[^>]*src=[\"']?https?:", index)
    assert "late_features.html" in index and (out / "late_features.html").is_file()
    assert "Context-length study" in (out / "summary.txt").read_text()
    # Run again into the same folder: the finished SAEs are reused, not retrained.
    weights = out / "saes" / "window-64" / "sae_weights.safetensors"
    before = weights.stat().st_mtime_ns
    assert main(["reproduce", "context-length", "--out", str(out), "--short-models", "SynthStories-1.25M-long-ctx64",
                 "--windows", "64", "512",
                 "--sae.tokens", "8192", "--sae.expansion", "2", "--sae.k", "8", "--eval-stories", "4",
                 "--sae-eval-stories", "3", "--device", "cpu"]) == 0
    assert weights.stat().st_mtime_ns == before


def test_bad_settings_are_refused_up_front(tmp_path, capsys):
    with pytest.raises(ConfigError, match="bucket starts"):
        ContextLengthConfig(boundary=100)
    with pytest.raises(ConfigError, match="two different"):
        ContextLengthConfig(windows=[64, 64])
    assert main(["reproduce", "context-length", "--out", str(tmp_path / "x"), "--windows", "64", "1024"]) == 2
    assert "exceeds" in capsys.readouterr().err

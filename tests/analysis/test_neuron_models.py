"""experiments/neuron_models.py: the paper's Fig. 21 picks and the neuron-vs-random table per model."""

import json

from simplestories_interp.zoo.formats import save_native
from tests.helpers import experiment


def test_measure_a_model(tiny_model, tmp_path):
    script = experiment("neuron_models")
    directory = save_native(tiny_model, tmp_path / "tiny")
    script.main(["--models", str(directory), "--n-stories", "6", "--seeds", "0", "1", "--out", str(tmp_path / "out")])
    (result,) = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [la["layer"] for la in result["layers"]] == [0, 1] and result["seeds"] == [0, 1]
    assert all(len(la["semantic_random"]) == 2 and la["units"] == 48 for la in result["layers"])
    # 2 layers: the penultimate layer is 0, "the layer before" falls back to layer 0 too
    assert [(p["layer"], p["unit"]) for p in result["picks"][:3]] == [(0, 0), (0, 1), (0, 0)]
    assert 0 <= result["semantic_share_random"] <= 1 and 0 <= result["layers_neurons_beat_every_seed"] <= 2
    assert "| 0 |" in (tmp_path / "out" / "table.md").read_text()

"""`ssi reproduce tinystories` end to end, on tiny models and a small corpus."""

import json

from simplestories_interp.cli import main
from simplestories_interp.zoo.formats import save_native
from simplestories_interp.zoo.loading import build_model
from simplestories_interp.zoo.registry import ModelSpec


def test_reproduce_tinystories_on_tiny_models(tmp_path, tiny_model, synth_tokenizer, capsys):
    one_layer = ModelSpec(name="tiny-1L", n_layers=1, d_model=32, n_heads=8, d_head=4,
                          n_key_value_heads=8, d_mlp=48, d_vocab=600, n_ctx=64)
    heads_dir = save_native(build_model(one_layer, None, synth_tokenizer, device="cpu"), tmp_path / "h")
    neurons_dir = save_native(tiny_model, tmp_path / "n")
    code = main(["reproduce", "tinystories", "--out", str(tmp_path / "report"), "--head-model", str(heads_dir),
                 "--neuron-model", str(neurons_dir), "--neuron-stories", "8", "--head-stories", "6",
                 "--device", "cpu", "--text", "Tom and Mia looked for the ball in the park."])
    out = capsys.readouterr().out
    assert code == 0 and "positional head(s)" in out
    report = tmp_path / "report"
    index = (report / "index.html").read_text()
    for page in ("fig19_positional_heads.html", "fig20_semantic_heads.html", "heads_heatmap.html",
                 "fig21_neurons.html", "summary.txt"):
        assert page in index and (report / page).is_file()
    fig21 = (report / "fig21_neurons.html").read_text()
    assert fig21.count("class='unit'") == 4 and "penultimate" in fig21 and "highest-activating" in fig21
    heads = json.loads((report / "heads.json").read_text())
    assert len(heads) == 8 and all("head_class" in h for h in heads)
    roles = json.loads((report / "neuron_roles.json").read_text())
    assert set(roles) == {"blocks.0.mlp.hook_post", "blocks.1.mlp.hook_post"}
    summary = (report / "summary.txt").read_text()
    assert "L0 N0" in summary and "neurons have a role" in summary


def test_reproduce_bad_model(capsys, tmp_path):
    code = main(["reproduce", "tinystories", "--out", str(tmp_path), "--head-model", "SimpleStories-1L"])
    assert code == 2 and "Did you mean" in capsys.readouterr().err

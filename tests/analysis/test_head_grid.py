"""experiments/head_grid.py: its variants are valid architectures and its measurement runs."""

import json

from simplestories_interp import zoo
from simplestories_interp.zoo.formats import save_native
from tests.helpers import experiment


def test_variants_change_one_factor_each():
    grid = experiment("head_grid")
    base = zoo.get_spec(grid.BASE)
    for name, (arch, training) in grid.VARIANTS.items():
        changed = zoo.ModelSpec(**{**{f: getattr(base, f) for f in ("name", "n_layers", "d_model", "n_heads",
                                                                   "d_head", "n_key_value_heads", "d_mlp",
                                                                   "d_vocab")}, **arch})
        assert changed.n_heads * changed.d_head == changed.d_model  # heads split the residual stream
        assert (name == "base") == (not arch and not training) and not (arch and training)
        steps = {"max_steps", "batch_size", "micro_batch_size", "warmup_steps", "eval_every", "checkpoint_every",
                 "log_every"}
        allowed = (set(), {"positional"}, {"max_steps", "warmup_steps"}, steps, steps | {"positional"},
                   {"attn_scale"}, {"attn_scale", "positional"})
        assert set(training) in allowed
        if "batch_size" in training:  # more updates, the same tokens
            recipe = grid.RECIPE["max_steps"] * grid.RECIPE["batch_size"]
            assert training["max_steps"] * training["batch_size"] == recipe


def test_measure_and_table(tiny_model, tmp_path):
    grid = experiment("head_grid")
    directory = save_native(tiny_model, tmp_path / "tiny", training={"final": {"val_loss": 1.5, "tokens": 1000}})
    result = grid.measure("tiny", directory, n_stories=4)
    assert result["val_loss"] == 1.5 and len(result["heads"]) == tiny_model.cfg.n_heads * tiny_model.cfg.n_layers
    assert all(abs(sum(h["argmax_offsets"]) - 1) < 1e-3 for h in result["heads"])
    assert all(0 <= h["distance_tv"] <= 1 for h in result["heads"])
    for h in result["heads"]:  # the peak is the largest mean attention, at its (negated) offset
        offset, peak = h["peak_mean_attention"]
        assert peak == max(h["offset_attention"]) and h["offset_attention"][-offset] == peak
    json.dumps(result)
    row = grid.table([result]).splitlines()[-1]
    assert row.startswith("| tiny | 32 | 4 | rotary | 1,000 | 1.5000 |")


def test_paper_variants_are_the_gpu_recipe():
    grid = experiment("head_grid")
    recipe = grid.PAPER_RECIPE
    assert recipe["max_steps"] * recipe["batch_size"] * 511 == 155_769_152  # the shipped model's tokens (targets)
    assert (recipe["positional"], recipe["attn_scale"]) == ("absolute", "none")
    spec = zoo.get_spec(grid.PAPER)
    assert (spec.d_model, spec.n_heads, spec.d_head, spec.n_layers, spec.positional) == (1024, 16, 64, 1, "absolute")
    assert grid.PAPER_CORPUS == {"n_stories": 600_000, "seed": 50_000, "shard_size": 40_000}


def test_paper_path_at_toy_size(tmp_path):
    """The paper variants' code path on a CPU: seeded shards written, trained, measured both ways."""
    grid = experiment("head_grid")
    grid.main(["--variants", "paper-rope", "--toy", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"),
               "--data", str(tmp_path / "corpus"), "--n-stories", "4", "--device", "cpu"])
    shards = sorted((tmp_path / "corpus").glob("*.jsonl"))
    first = [json.loads(line)["generation_id"] for line in shards[1].read_text().splitlines()[:2]]
    assert len(shards) == 2 and first == ["50001-0", "50001-1"]  # shard i = seed 50000 + i, from story 0
    (result,) = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["variant"] == "paper-rope" and result["positions"] == "rotary" and result["d_model"] == 32
    assert result["tokens"] == 3 * 4 * 511 and set(result["per_story"]) >= {"classes", "heads"}
    config = json.loads((tmp_path / "work" / "paper-rope" / "model" / "training_config.json").read_text())
    assert config["config"]["attn_scale"] == "standard" and config["config"]["data"] == str(tmp_path / "corpus")

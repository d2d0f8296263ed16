"""One pass, several SAEs (``train_saes``/``ssi sae sweep``); exact resume; the keyword API."""

import json

import pytest
import torch
from safetensors.torch import load_file

import simplestories_interp as ssi
from simplestories_interp.analysis.activations import cache_activations
from simplestories_interp.cli import main
from simplestories_interp.errors import ConfigError
from simplestories_interp.sae import training as sae_module
from simplestories_interp.sae.config import SAEConfig, SAESweepConfig
from simplestories_interp.sae.training import train_sae, train_saes

HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
SMALL = dict(model="tiny", hook=HOOKS[0], d_sae=64, k=4, tokens=10_000, batch_size=500, eval_stories=5,
             density_stories=5,
             log_every=5, checkpoint_every=10, device="cpu")


@pytest.fixture(scope="module")
def store(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "acts"
    cache_activations(tiny_model, HOOKS, path, n_stories=40, progress=False)
    return str(path)


def _weights(path):
    return load_file(str(path / "sae_weights.safetensors"))


def _same(a, b):
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sweep_shares_one_pass_and_equals_single_runs(tiny_model, store, tmp_path):
    sweep = SAESweepConfig(**SMALL, store=store, hooks=HOOKS, ks=[2, 4], out=str(tmp_path / "sweep"))
    runs = sweep.runs()
    assert len(runs) == 4 and len({r.out for r in runs}) == 4
    outs = train_saes(runs, model=tiny_model)
    for out in outs:
        assert ssi.load_sae(out).cfg.metadata.hook_name in HOOKS
        assert json.loads((out / "metrics.json").read_text())["l0"] > 0
    # each SAE of the sweep is exactly the SAE trained alone on the same stream
    alone = train_sae(runs[3], model=tiny_model, out=str(tmp_path / "alone"))
    assert _same(outs[3], alone) and not _same(outs[2], alone)


def test_resume_continues_exactly(tiny_model, store, tmp_path, monkeypatch):
    full = train_sae(SAEConfig(**SMALL, store=store, out=str(tmp_path / "full")), model=tiny_model)
    real = sae_module.sae_batches

    def interrupted(*args, **kwargs):
        batches, widths, provenance = real(*args, **kwargs)

        def stream():
            for i, batch in enumerate(batches):
                if i == 18:  # the probe, then 17 steps: killed after step 15 was logged, resumed from 10
                    raise KeyboardInterrupt
                yield batch
        return stream(), widths, provenance

    monkeypatch.setattr(sae_module, "sae_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_sae(SAEConfig(**SMALL, store=store, out=str(tmp_path / "cut")), model=tiny_model)
    monkeypatch.setattr(sae_module, "sae_batches", real)
    resumed = train_sae(SAEConfig(**SMALL, store=store, out=str(tmp_path / "cut"), resume=True), model=tiny_model)
    assert _same(full, resumed)
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]


def test_sweep_and_keyword_errors(tiny_model, store, tmp_path):
    with pytest.raises(ConfigError, match="share 'tokens'"):
        train_saes([SAEConfig(**SMALL, out=str(tmp_path / "a")),
                    SAEConfig(**{**SMALL, "tokens": 5000}, out=str(tmp_path / "b"))], model=tiny_model)
    with pytest.raises(ConfigError, match="its own --out"):
        train_saes([SAEConfig(**SMALL, out=str(tmp_path / "a")), SAEConfig(**SMALL, out=str(tmp_path / "a"))],
                   model=tiny_model)
    with pytest.raises(ValueError, match=r"k \(64\) must be smaller than d_sae \(32\)"):
        SAESweepConfig(ks=[4, 64], d_sae=32)
    SAESweepConfig(ks=[4], d_sae=32)  # the base k (32) is not trained, so it need not fit
    with pytest.raises(ValueError, match="--dead-tokens must be positive"):
        SAEConfig(dead_tokens=0)
    with pytest.raises(ConfigError, match="no SAE to train"):
        train_saes([], model=tiny_model)
    with pytest.raises(ConfigError, match="Did you mean 'tokens'"):
        ssi.train_sae(model=tiny_model, tokenz=100)
    with pytest.raises(ConfigError, match="holds"):
        train_saes(SAESweepConfig(**SMALL, store=store, hooks=[HOOKS[0], "blocks.1.mlp.hook_post"],
                                  out=str(tmp_path / "c")).runs(), model=tiny_model)


def test_sweep_cli(tiny_model, store, tmp_path, capsys):
    from simplestories_interp.zoo.formats import save_native

    model_dir = save_native(tiny_model, tmp_path / "model")
    code = main(["sae", "sweep", "--model", str(model_dir), "--store", store, "--hooks", *HOOKS, "--d-sae", "64",
                 "--archs", "topk", "standard", "--ks", "4", "--l1s", "1", "--tokens", "2000", "--batch-size", "500",
                 "--eval-stories", "5", "--density-stories", "5", "--out", str(tmp_path / "sw") + "/",
                 "--device", "cpu"])
    assert code == 0
    out, err = capsys.readouterr()
    assert out.count("blocks.") == 4 and "standard-l11-d64" in out and "topk-k4-d64" in out
    assert f"SAEs written to {tmp_path / 'sw'}/ " in out and "//" not in out  # it printed sw//
    assert "evaluating SAE" in err  # the evaluation after training shows progress (it ran minutes unseen)


def test_wandb_logging_offline(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    train_sae(SAEConfig(**{**SMALL, "tokens": 2000}, out=str(tmp_path / "w"), wandb=True), model=tiny_model)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))

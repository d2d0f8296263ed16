import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from simplestories_interp.analysis.activations import cache_activations
from simplestories_interp.cli import main
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.errors import ConfigError, UnknownHookError
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.metrics import ce_loss_score, evaluate_sae, explained_variance, reconstruction
from simplestories_interp.sae.training import eval_sae, load_sae, make_sae, train_sae, train_saes
from simplestories_interp.zoo.formats import save_native

HOOK = "blocks.0.hook_resid_post"
SMALL = dict(model="tiny", hook=HOOK, d_sae=64, k=4, tokens=20_000, batch_size=500, eval_stories=10,
             density_stories=30,
             log_every=5, checkpoint_every=10, device="cpu")


class IdentitySAE:  # a "perfect" SAE
    def encode(self, x):
        return x

    def decode(self, f):
        return f


class ZeroSAE:
    def encode(self, x):
        return torch.zeros_like(x)

    def decode(self, f):
        return torch.zeros_like(f)


def _rows(model, n=10):
    return np.concatenate(list(iter_row_batches("synthetic:9", model.tokenizer, model.cfg.n_ctx, 8, limit=n)))


def test_metric_definitions(tiny_model):
    rows = _rows(tiny_model)
    perfect = evaluate_sae(tiny_model, IdentitySAE(), HOOK, rows)
    assert perfect.explained_variance == pytest.approx(1.0) and perfect.ce_loss_score == pytest.approx(1.0)
    assert perfect.kl_sae == pytest.approx(0.0, abs=1e-6) and perfect.l0 == pytest.approx(32, abs=0.01)
    zero = evaluate_sae(tiny_model, ZeroSAE(), HOOK, rows)
    assert zero.ce_loss_score == pytest.approx(0.0, abs=1e-6) and zero.dead_fraction == 1.0 and zero.l0 == 0
    x = torch.randn(100, 8)
    assert explained_variance(x, x.mean(0).expand_as(x)) == pytest.approx(0.0, abs=1e-6)
    assert ce_loss_score(2.0, 2.5, 4.0) == pytest.approx(0.75)


def test_train_from_store_saves_saelens_format(tiny_model, tmp_path):
    from sae_lens import SAE

    cache_activations(tiny_model, [HOOK], tmp_path / "store", n_stories=60, progress=False)
    out = train_sae(SAEConfig(**SMALL, store=str(tmp_path / "store"), out=str(tmp_path / "sae")), model=tiny_model)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"l0", "explained_variance", "mse", "dead_fraction", "dense_fraction", "ce_loss_score",
            "kl_sae"} <= set(metrics)
    assert 0 < metrics["explained_variance"] <= 1 and metrics["l0"] > 0
    # BatchTopK (the default) is saved as a JumpReLU SAE: after 40 steps its threshold must be the one it
    # trained with, so it keeps about k latents per token (SAELens's moving average from 0 gave ~4x k)
    assert SMALL["k"] / 2 <= metrics["l0"] <= 2 * SMALL["k"]
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 40 and "explained_variance" in log[0]
    theirs, ours = SAE.load_from_disk(str(out)), load_sae(out, device="cpu")
    x = torch.randn(5, 32)
    assert torch.allclose(theirs.decode(theirs.encode(x)), ours.decode(ours.encode(x)))
    provenance = json.loads((out / "ssi_sae.json").read_text())
    assert provenance["hook"] == HOOK and provenance["tokens"] == 20_000
    assert metrics["density_tokens"] > metrics["tokens"]  # dead/dense counted over the larger sample
    again = eval_sae(out, tiny_model, eval_stories=10, density_stories=30)
    assert again.ce_loss_score == pytest.approx(metrics["ce_loss_score"], abs=1e-4)


def test_on_the_fly_and_architectures(tiny_model, tmp_path):
    """Every architecture learns from activations made on the fly (100 steps, one shared pass):
    held-out explained variance far above an untrained SAE's, at the sparsity it is built for."""
    l1 = {"standard": 0.5, "jumprelu": 5.0}  # L1 for standard, L0 coefficient for jumprelu
    cfgs = [SAEConfig(**{**SMALL, "arch": arch, "tokens": 50_000, "lr": 3e-3, "l1": l1.get(arch, 5.0), "log_every": 25,
                         "eval_stories": 5, "density_stories": 5}, out=str(tmp_path / arch))
            for arch in ("topk", "batchtopk", "standard", "jumprelu")]
    outs = train_saes(cfgs, model=tiny_model)
    _, cache = tiny_model.run_with_cache(torch.from_numpy(_rows(tiny_model)), names_filter=HOOK)
    x = cache[HOOK].reshape(-1, 32)
    for cfg, out in zip(cfgs, outs, strict=True):
        assert load_sae(out).cfg.d_sae == 64
        metrics = json.loads((out / "metrics.json").read_text())
        log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        untrained = reconstruction(make_sae(cfg, 32, {}), x)
        assert untrained["explained_variance"] < 0.1, cfg.arch
        assert metrics["explained_variance"] > untrained["explained_variance"] + 0.4, (cfg.arch, metrics)
        assert log[-1]["explained_variance"] > log[0]["explained_variance"] + 0.2, (cfg.arch, log)
        if cfg.arch == "topk":  # exactly k features per token
            assert [r["l0"] for r in log] == pytest.approx([4] * len(log)) and 3.5 < metrics["l0"] <= 4
        elif cfg.arch == "batchtopk":  # k per token on average over a batch; saved with a learned threshold
            assert [r["l0"] for r in log] == pytest.approx([4] * len(log)) and 2 <= metrics["l0"] <= 2 * 4
        else:  # the sparsity penalty pulls L0 down as training goes on
            assert log[-1]["l0"] < max(r["l0"] for r in log) - 5, (cfg.arch, log)
            if cfg.arch == "standard":
                assert metrics["l0"] < untrained["l0"] - 5, (metrics["l0"], untrained["l0"])


def test_bad_input(tiny_model, tmp_path):
    with pytest.raises(UnknownHookError, match="Did you mean 'blocks.0.hook_resid_post'"):
        train_sae(SAEConfig(**{**SMALL, "hook": "blocks.0.hook_resid_pots"}, out=str(tmp_path / "a")), model=tiny_model)
    with pytest.raises(ValueError, match="k .* must be smaller than d_sae"):
        SAEConfig(d_sae=16, k=16)
    with pytest.raises(ValueError, match="tokens"):
        SAEConfig(tokens=0)
    cache_activations(tiny_model, ["blocks.1.hook_resid_post"], tmp_path / "store", n_stories=5, progress=False)
    with pytest.raises(ConfigError, match="not 'blocks.0.hook_resid_post'"):
        train_sae(SAEConfig(**SMALL, store=str(tmp_path / "store"), out=str(tmp_path / "b")), model=tiny_model)
    from simplestories_interp.zoo.loading import build_model

    other = build_model(tiny_model.ssi_spec, None, tiny_model.tokenizer, device="cpu")
    with pytest.raises(ConfigError, match="other weights"):
        train_sae(SAEConfig(**{**SMALL, "hook": "blocks.1.hook_resid_post"}, store=str(tmp_path / "store"),
                            out=str(tmp_path / "c")), model=other)
    done = train_sae(SAEConfig(**{**SMALL, "tokens": 2000}, out=str(tmp_path / "d")), model=tiny_model)
    with pytest.raises(ConfigError, match="already finished"):
        train_sae(SAEConfig(**{**SMALL, "tokens": 2000}, out=str(done), resume=True), model=tiny_model)
    with pytest.raises(ConfigError, match="width 48"):
        eval_sae(done, _with_hook(done, "blocks.0.mlp.hook_post") or tiny_model, eval_stories=5)


def _with_hook(sae_dir, hook):
    cfg = json.loads((sae_dir / "cfg.json").read_text())
    cfg["metadata"]["hook_name"] = hook
    (sae_dir / "cfg.json").write_text(json.dumps(cfg))


def _cli(model_dir, out, *extra):
    return ["sae", "train", "--model", str(model_dir), "--hook", HOOK, "--d-sae", "64", "--k", "4",
            "--tokens", "100000", "--batch-size", "500", "--eval-stories", "5", "--density-stories", "5",
            "--log-every", "10", "--checkpoint-every", "20", "--out", str(out), "--device", "cpu", *extra]


@pytest.mark.slow
def test_cli_kill_and_resume(tiny_model, tmp_path, capsys):
    """kill -9 mid-run, then --resume: the SAE ends bit-identical to an uninterrupted run's."""
    model_dir = save_native(tiny_model, tmp_path / "model")
    killed = tmp_path / "sae"
    proc = subprocess.Popen([sys.executable, "-m", "simplestories_interp", *_cli(model_dir, killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list((killed / "checkpoints").glob("step_*/state.json")):
        assert time.time() < deadline and proc.poll() is None, "finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL and not (killed / "cfg.json").exists(), "not killed mid-run"
    assert main(_cli(model_dir, killed, "--resume", "--lr", "0.01")) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(_cli(model_dir, killed, "--resume")) == 0
    assert main(_cli(model_dir, tmp_path / "uninterrupted")) == 0
    resumed = load_file(str(killed / "sae_weights.safetensors"))
    uninterrupted = load_file(str(tmp_path / "uninterrupted" / "sae_weights.safetensors"))
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(10, 201, 10))  # once each: records after the checkpoint were dropped, logged again
    assert main(["sae", "eval", str(killed), "--eval-stories", "5", "--density-stories", "5",
                 "--device", "cpu"]) == 0
    assert "ce_loss_score" in capsys.readouterr().out
    own = (killed / "metrics.json").read_text()
    other = save_native(tiny_model, tmp_path / "other-model")
    assert main(["sae", "eval", str(killed), "--model", str(other), "--eval-stories", "5", "--density-stories", "5",
                 "--device", "cpu"]) == 0
    assert (killed / "metrics.json").read_text() == own, "evaluating with another model overwrote metrics.json"
    assert "ce_loss_score" in json.loads((killed / "metrics-other-model.json").read_text())
    assert main(["sae", "features", str(killed), "--n-stories", "5", "--out", str(tmp_path / "f.html"),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "role matches" in out and (tmp_path / "f.html").read_text().count("class='unit'") == 8


def test_feature_role_matching(tiny_model, synth_tokenizer):
    from simplestories_interp.data.rows import build_rows
    from simplestories_interp.sae.features import match_roles, match_summary

    rows = build_rows("synthetic", synth_tokenizer, 64, 10, annotated=True)
    said = torch.from_numpy(rows.roles()["said_verb"].ravel().astype("float32"))
    feats = torch.stack([said, 1 - said, torch.zeros_like(said)], 1)
    m = match_roles(feats, rows)
    assert m[0].role == "said_verb" and m[0].f1 == pytest.approx(1.0)
    assert m[2].role is None and m[2].frequency == 0
    assert match_summary(m)["matched"] == 1


def test_keyword_api_takes_a_model_name_or_a_loaded_model(tiny_model, tmp_path):
    """docs/sae.md's call: ``train_sae(model="NAME", hook=..., ...)`` (a name) or a loaded model."""
    directory = save_native(tiny_model, tmp_path / "tiny-model")
    common = dict(hook=HOOK, d_sae=64, k=4, tokens=2000, batch_size=500, eval_stories=5, density_stories=5,
                  device="cpu")
    by_name = train_sae(model=str(directory), out=str(tmp_path / "by_name"), **common)
    recorded = json.loads((by_name / "ssi_sae.json").read_text())
    assert recorded["model"] == str(directory)
    loaded = train_sae(model=tiny_model, out=str(tmp_path / "loaded"), **common)
    assert json.loads((loaded / "ssi_sae.json").read_text())["model"] == tiny_model.cfg.model_name
    # The same data, seed and settings: the same SAE whichever way the model was given.
    assert torch.equal(load_sae(by_name).W_dec, load_sae(loaded).W_dec)


def test_unusable_saes_are_reported(tiny_model, tmp_path):
    """An evaluation that finds a negative explained variance or, for TopK/BatchTopK, L0 above 2k warns."""
    from simplestories_interp.sae.metrics import SAEMetrics

    bad = SAEMetrics(l0=1266.0, explained_variance=-0.63, mse=1.0, dead_fraction=0.0, dense_fraction=0.997,
                     ce_clean=1.0, ce_sae=5.0, ce_zero=8.0, ce_loss_score=0.4, kl_sae=4.0, kl_zero=7.0, tokens=10,
                     density_tokens=10)
    problems = bad.problems(k=32)
    assert len(problems) == 2 and "explained variance -0.63 < 0" in problems[0] and "above 2k = 64" in problems[1]
    assert bad.problems(k=None) == problems[:1]
    cache_activations(tiny_model, [HOOK], tmp_path / "store", n_stories=20, progress=False)
    cfg = SAEConfig(**{**SMALL, "tokens": 1000, "lr": 1e-6}, store=str(tmp_path / "store"), out=str(tmp_path / "sae"))
    with pytest.warns(UserWarning, match="explained variance .* < 0"):
        train_sae(cfg, model=tiny_model)  # two steps at a tiny lr: not trained

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from simplestories_interp.analysis.activations import cache_activations
from simplestories_interp.cli import main
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.errors import ConfigError, UnknownHookError
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.metrics import ce_loss_score, evaluate_sae, explained_variance
from simplestories_interp.sae.training import eval_sae, load_sae, train_sae
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
    assert {"l0", "explained_variance", "mse", "dead_fraction", "dense_fraction", "ce_loss_score", "kl_sae"} <= set(metrics)
    assert 0 < metrics["explained_variance"] <= 1 and metrics["l0"] > 0
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
    for arch in ("topk", "standard", "jumprelu"):
        cfg = SAEConfig(**{**SMALL, "arch": arch, "tokens": 5000}, out=str(tmp_path / arch))
        out = train_sae(cfg, model=tiny_model)
        assert load_sae(out).cfg.d_sae == 64


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
    return [sys.executable, "-m", "simplestories_interp", "sae", "train", "--model", str(model_dir), "--hook", HOOK,
            "--d-sae", "64", "--k", "4", "--tokens", "300000", "--batch-size", "500", "--eval-stories", "5", "--density-stories", "5",
            "--checkpoint-every", "20", "--out", str(out), "--device", "cpu", *extra]


def test_cli_kill_and_resume(tiny_model, tmp_path, capsys):
    model_dir = save_native(tiny_model, tmp_path / "model")
    proc = subprocess.Popen(_cli(model_dir, tmp_path / "sae"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list((tmp_path / "sae" / "checkpoints").glob("step_*/state.json")):
        assert time.time() < deadline and proc.poll() is None, "finished before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    mismatch = subprocess.run(_cli(model_dir, tmp_path / "sae", "--resume", "--lr", "0.01"), capture_output=True, text=True)
    assert mismatch.returncode == 2 and "other settings" in mismatch.stderr
    done = subprocess.run(_cli(model_dir, tmp_path / "sae", "--resume"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line)["step"] for line in (tmp_path / "sae" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 600
    assert main(["sae", "eval", str(tmp_path / "sae"), "--eval-stories", "5", "--density-stories", "5",
                 "--device", "cpu"]) == 0
    assert "ce_loss_score" in capsys.readouterr().out
    assert main(["sae", "features", str(tmp_path / "sae"), "--n-stories", "5", "--out", str(tmp_path / "f.html"),
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

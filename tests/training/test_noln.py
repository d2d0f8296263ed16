import json

import pytest
import torch

import simplestories_interp as ssi
from simplestories_interp.errors import ConfigError
from simplestories_interp.training.config import NoLNConfig
from simplestories_interp.training.model import Llama
from simplestories_interp.training.noln import fold, norm_sites
from simplestories_interp.zoo.formats import save_native
from simplestories_interp.zoo.loading import build_model


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_CACHE_DIR", str(tmp_path / "cache"))


def test_folding_is_exact(tiny_spec):
    torch.manual_seed(0)
    model = Llama(tiny_spec).eval()
    with torch.no_grad():
        for _, m in norm_sites(model):
            m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
            m.fixed = 0.5 + torch.rand(()).item()
    spec, state = fold(model)
    free = build_model(spec, state, device="cpu")
    tokens = torch.randint(0, tiny_spec.d_vocab, (2, 20))
    with torch.no_grad():
        assert (free(tokens) - model(tokens)).abs().max() < 1e-4
    assert spec.normalization == "none" and not any(k.startswith("ln_final") for k in state)


def test_schedule_removes_every_norm_and_loads(tiny_model, tmp_path):
    source = save_native(tiny_model, tmp_path / "src")
    out = ssi.remove_norms(NoLNConfig(model=str(source), out=str(tmp_path / "free"), n_stories=150,
                                      steps_per_site=2, final_steps=3, batch_size=4, micro_batch_size=2,
                                      eval_batches=2, device="cpu"), progress=False)
    report = json.loads((out / "noln_report.json").read_text())
    sites = [f"blocks.{i}.ln2" for i in range(2)] + [f"blocks.{i}.ln1" for i in range(2)] + ["ln_final"]
    # Relative to the largest logit (float32 sums): an absolute 1e-4 failed one run in three after fine-tuning.
    assert list(report["sites"]) == sites and report["fold_relative_difference"] < 1e-5
    for key in ("val_loss_original", "val_loss_removed_no_finetune", "val_loss_finetuned", "tokens"):
        assert key in report
    # removing the norms without fine-tuning hurts; the schedule's fine-tuning wins much of it back
    assert report["val_loss_finetuned"] < report["val_loss_removed_no_finetune"] - 1, report
    model = ssi.load_model(out, device="cpu")
    assert model.cfg.normalization_type is None
    assert not any(".ln" in name or "ln_final" in name for name in model.state_dict())
    assert not any("hook_normalized" in name for name in model.hook_dict)
    with pytest.raises(ConfigError, match="already has no normalisation"):
        ssi.remove_norms(NoLNConfig(model=str(out), out=str(tmp_path / "again")), progress=False)


def test_noln_cli_prints_lines_not_a_dict(tiny_model, tmp_path, capsys):
    from simplestories_interp.cli import main

    source = save_native(tiny_model, tmp_path / "src")
    assert main(["noln", str(source), "--out", str(tmp_path / "free"), "--n-stories", "150", "--steps-per-site",
                 "1", "--final-steps", "1", "--batch-size", "4", "--micro-batch-size", "2", "--eval-batches", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "val_loss_finetuned: " in out  # it printed the report's raw Python dict
    assert f"norm-free model written to {tmp_path / 'free'}" in out


def test_direct_logit_attribution_is_exact_without_norms(tiny_spec, synth_tokenizer):
    from dataclasses import replace

    from simplestories_interp.analysis.attribution import direct_logit_attribution
    from simplestories_interp.errors import InvalidArgumentError

    spec = replace(tiny_spec, normalization="none", d_vocab=600)
    torch.manual_seed(1)
    model = build_model(spec, None, synth_tokenizer, device="cpu")
    tokens = model.to_tokens("Lily went to the park with her dog.")[0]
    for target in (5, 77):
        a = direct_logit_attribution(model, tokens, 6, target)
        assert abs(a.total - a.logit) < 1e-4 and a.heads.shape == (2, 4) and a.neurons.shape == (2, 48)
    rms = build_model(replace(spec, normalization="rms"), None, synth_tokenizer, device="cpu")
    with pytest.raises(InvalidArgumentError, match="ssi noln"):
        direct_logit_attribution(rms, tokens, 3, 5)


def test_a_model_without_rms_norms_is_refused(tmp_path):
    from simplestories_interp.errors import UnsupportedArchitectureError

    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(UnsupportedArchitectureError, match="gpt2"):
        ssi.remove_norms(NoLNConfig(model=str(tmp_path / "gpt2"), out=str(tmp_path / "x")), progress=False)

import json

import pytest
import torch

import simplestories_interp as ssi
from simplestories_interp.checkpoint import save_native
from simplestories_interp.config import NoLNConfig
from simplestories_interp.errors import ConfigError
from simplestories_interp.loading import build_model
from simplestories_interp.training.model import Llama
from simplestories_interp.training.noln import fold, norm_sites


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
    assert list(report["sites"]) == sites and report["fold_max_logit_difference"] < 1e-4
    for key in ("val_loss_original", "val_loss_removed_no_finetune", "val_loss_finetuned", "tokens"):
        assert key in report
    model = ssi.load_model(out, device="cpu")
    assert model.cfg.normalization_type is None
    assert not any(".ln" in name or "ln_final" in name for name in model.state_dict())
    assert not any("hook_normalized" in name for name in model.hook_dict)
    with pytest.raises(ConfigError, match="already has no normalisation"):
        ssi.remove_norms(NoLNConfig(model=str(out), out=str(tmp_path / "again")), progress=False)

"""Unscaled attention (GPT-Neo's, ``attn_scale="none"``): trains unscaled, saves standard.

The factor is folded into the queries on export and taken out on import, so a saved model is a
plain HookedTransformer with the trainer's logits, and a fine-tune starts from the same function.
"""

import dataclasses
import math

import pytest
import torch
from safetensors.torch import load_file

import simplestories_interp as ssi
from simplestories_interp import zoo
from simplestories_interp.errors import ConfigError
from simplestories_interp.training.config import load_config
from simplestories_interp.training.model import Llama, from_tl_state, load_standard_state, to_hf_state, to_tl_state
from simplestories_interp.training.trainer import train
from simplestories_interp.zoo.loading import build_model

SPEC = dataclasses.replace(zoo.get_spec("SynthStories-1L"), n_ctx=16, d_vocab=50)


def _unscaled(positional: str = "rotary", n_key_value_heads: int = 8) -> Llama:
    torch.manual_seed(0)
    model = Llama(dataclasses.replace(SPEC, positional=positional, n_key_value_heads=n_key_value_heads),
                  attn_scale=1.0)
    with torch.no_grad():  # large enough weights that the scale changes the patterns
        for p in model.parameters():
            p.normal_(0, 0.3 if p.dim() >= 2 else 1.0)
    return model.eval()


@pytest.mark.parametrize(("positional", "n_key_value_heads"), [("rotary", 8), ("absolute", 8), ("rotary", 2)])
def test_unscaled_model_exports_as_a_standard_hooked_transformer(positional, n_key_value_heads):
    model, tokens = _unscaled(positional, n_key_value_heads), torch.randint(0, 50, (2, 16))
    assert model.query_fold == pytest.approx(math.sqrt(SPEC.d_head))
    hooked = build_model(model.spec, to_tl_state(model), device="cpu")
    with torch.no_grad():
        expected = model(tokens)
        assert (hooked(tokens) - expected).abs().max() < 1e-3
        standard = Llama(model.spec)  # the same weights read with 1/sqrt(d_head): another function
        standard.load_state_dict(model.state_dict())
        assert (standard(tokens) - expected).abs().max() > 1e-2
        back = Llama(model.spec, attn_scale=1.0)
        from_tl_state(back, to_tl_state(model))
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in
                   zip(back.state_dict().values(), model.state_dict().values(), strict=True))


def test_fine_tune_start_keeps_the_function():
    standard, tokens = Llama(SPEC).eval(), torch.randint(0, 50, (2, 16))
    unscaled = Llama(SPEC, attn_scale=1.0).eval()
    load_standard_state(unscaled, standard.state_dict())
    with torch.no_grad():
        assert (unscaled(tokens) - standard(tokens)).abs().max() < 1e-5
    key = "model.layers.0.self_attn.q_proj.weight"
    assert torch.allclose(to_hf_state(unscaled)[key], to_hf_state(standard)[key], atol=1e-7)


def test_training_unscaled_loads_with_the_trainers_logits(tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_CACHE_DIR", str(tmp_path / "cache"))
    cfg = load_config(model="SynthStories-1.25M", n_ctx=32, n_stories=300, vocab_size=400, batch_size=8,
                      max_steps=4, lr=3e-3, warmup_steps=1, eval_every=2, checkpoint_every=2, device="cpu",
                      samples=["once upon a time"], attn_scale="none", out=str(tmp_path / "run"))
    out = train(cfg)
    model = ssi.load_model(out, device="cpu")
    assert model.cfg.use_attn_scale  # saved in the standard convention
    # The last checkpoint holds the weights as trained (unscaled): same logits through the export.
    trained = Llama(model.ssi_spec, attn_scale=1.0).eval()
    trained.load_state_dict(load_file(tmp_path / "run" / "checkpoints" / "step_0000004" / "tensors.safetensors"))
    tokens = model.to_tokens("once upon a time there was a girl")
    with torch.no_grad():
        assert (model(tokens) - trained(tokens)).abs().max() < 1e-4
    q = model.cfg.n_heads * model.cfg.d_head
    exported = load_file(out / "model.safetensors")["model.layers.0.self_attn.q_proj.weight"]
    assert torch.allclose(exported, trained.blocks[0].attn.qkv.weight[:q] * math.sqrt(model.cfg.d_head))


def test_attn_scale_is_checked():
    with pytest.raises(ConfigError, match="attn_scale.*'none'.*'sqrt'"):
        load_config(attn_scale="sqrt")

import pytest
import torch

from simplestories_interp.errors import WeightsMismatchError
from simplestories_interp.zoo.convert import hf_to_tl, tl_to_hf


def _hf_state(spec, seed=0):
    from tests.helpers import hf_llama

    return {k: v.clone() for k, v in hf_llama(spec, seed).state_dict().items()}


def test_roundtrip_is_identity(tiny_spec):
    hf = _hf_state(tiny_spec)
    tl = hf_to_tl(hf, tiny_spec)
    assert tl["blocks.0.attn._W_K"].shape == (2, 32, 8)  # GQA keys carry TL's underscore
    assert tl["blocks.1.attn.W_O"].shape == (4, 8, 32)
    assert torch.equal(tl["unembed.W_U"], hf["model.embed_tokens.weight"].T)  # tied
    back = tl_to_hf(tl, tiny_spec)
    for key, value in back.items():
        assert torch.equal(value, hf[key]), key


def test_shape_and_key_problems_are_reported(tiny_spec):
    hf = _hf_state(tiny_spec)
    hf["model.layers.1.mlp.up_proj.weight"] = torch.zeros(7, 32)
    del hf["model.norm.weight"]
    hf["model.extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsMismatchError) as err:
        hf_to_tl(hf, tiny_spec)
    msg = str(err.value)
    assert "up_proj" in msg and "(7, 32)" in msg and "missing model.norm.weight" in msg
    assert "unexpected model.extra.weight" in msg


def test_norm_free_spec_cannot_be_written_as_hf(tiny_spec):
    from dataclasses import replace

    spec = replace(tiny_spec, normalization="none")
    tl = hf_to_tl({k: v for k, v in _hf_state(tiny_spec).items() if "norm" not in k}, spec)
    assert not any(k.endswith("ln1.w") for k in tl)
    from simplestories_interp.zoo.formats import save_hf

    hf = tl_to_hf(tl, spec)
    assert not any("norm" in k for k in hf)
    with pytest.raises(WeightsMismatchError, match="native"):
        save_hf(hf, spec, "/tmp/never-written")


def test_nonzero_bias_refuses_export(tiny_spec):
    tl = hf_to_tl(_hf_state(tiny_spec), tiny_spec)
    tl["blocks.0.mlp.b_in"] += 1
    with pytest.raises(WeightsMismatchError, match="b_in"):
        tl_to_hf(tl, tiny_spec)

"""The frozen-scale attribution error: zero without norms, and equal to a brute-force count with them."""

import dataclasses

import torch

from simplestories_interp.analysis.attribution import frozen_scale_errors
from simplestories_interp.zoo.loading import build_model


def _brute_force(model, tokens, name: str) -> float:
    """TransformerLens's own frozen-scale attribution (``apply_ln_to_stack``) against the logit change
    when the component is subtracted from the final residual stream and the model finishes its pass."""
    final = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    logits, cache = model.run_with_cache(tokens)
    part = cache[name]
    approx = cache.apply_ln_to_stack(part[None], layer=None)[0]
    next_tokens = tokens[:, 2:]
    u = model.W_U[:, next_tokens].permute(1, 2, 0)
    approx = (approx[:, 1:-1] * u).sum(-1)
    ablated = model.run_with_hooks(tokens, fwd_hooks=[(final, lambda act, hook: act - part)])
    gather = lambda lg: lg[:, 1:-1].gather(-1, next_tokens[..., None])[..., 0]  # noqa: E731
    actual = gather(logits) - gather(ablated)
    return float((approx - actual).abs().mean() / actual.abs().mean())


def test_matches_transformer_lens_frozen_scale_attribution(tiny_model):
    tokens = torch.randint(2, 600, (3, 20))
    errors = frozen_scale_errors(tiny_model, tokens)
    assert list(errors) == [
        "hook_embed",
        "blocks.0.hook_attn_out",
        "blocks.0.hook_mlp_out",
        "blocks.1.hook_attn_out",
        "blocks.1.hook_mlp_out",
    ]
    for name, e in errors.items():
        assert abs(e["relative_error"] - _brute_force(tiny_model, tokens, name)) < 1e-4, name
        assert e["relative_error"] > 1e-3 and e["mean_abs_effect"] > 0


def test_exact_without_norms(tiny_spec, synth_tokenizer):
    spec = dataclasses.replace(tiny_spec, normalization="none", d_vocab=600)
    torch.manual_seed(1)
    model = build_model(spec, None, synth_tokenizer, device="cpu")
    errors = frozen_scale_errors(model, torch.randint(2, 600, (2, 16)))
    assert max(e["relative_error"] for e in errors.values()) < 1e-5


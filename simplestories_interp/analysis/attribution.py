"""Direct logit attribution that is exact on norm-free models.

Without normalisation the final residual stream is a sum of component outputs, and the logits
are that sum times W_U (plus b_U). So each component's contribution to a logit is its output
dotted with the token's unembedding column, and the contributions add up to the logit exactly:
the embedding, every attention head (``z @ W_O``, plus the attention output bias), and every MLP
neuron (``post[n] * W_out[n]``, plus the MLP output bias). With RMSNorm the same
decomposition is only approximate (the final norm's per-token scale couples everything), which
is the reason to remove norms (``ssi noln``).

:func:`frozen_scale_errors` measures how approximate: the usual approximation (TransformerLens's
``cache.apply_ln_to_stack``) divides each component by the final norm's scale *frozen* at its value
on the full residual stream; the component's actual direct effect is the change of the logit when
it is removed from the final residual stream and the norm is recomputed. On a norm-free model the
two agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.errors import InvalidArgumentError


@dataclass
class Attribution:
    """Contributions to one logit; ``total`` equals the logit on norm-free models."""

    embed: float
    heads: Float[Tensor, "layer head"]
    neurons: Float[Tensor, "layer d_mlp"]
    biases: float
    logit: float

    @property
    def total(self) -> float:
        return self.embed + float(self.heads.sum()) + float(self.neurons.sum()) + self.biases


@torch.no_grad()
def direct_logit_attribution(model: HookedTransformer, tokens: Int[Tensor, " pos"], pos: int,
                             target: int) -> Attribution:
    """Split ``logits[pos, target]`` of a norm-free model into embedding, heads and neurons."""
    if model.cfg.normalization_type is not None:
        raise InvalidArgumentError(
            f"exact attribution needs a model without normalisation layers; this one uses "
            f"{model.cfg.normalization_type!r}. Remove its norms first: ssi noln MODEL --out DIR"
        )
    if not 0 <= pos < tokens.shape[-1]:
        raise InvalidArgumentError(f"pos {pos} is outside the {tokens.shape[-1]} tokens")
    logits, cache = model.run_with_cache(tokens.reshape(1, -1))
    u = model.W_U[:, target]  # [d_model]
    embed = float(cache["hook_embed"][0, pos] @ u)
    heads, neurons, biases = [], [], float(model.b_U[target])
    for layer in range(model.cfg.n_layers):
        z = cache[f"blocks.{layer}.attn.hook_z"][0, pos]  # [head, d_head]
        per_head = torch.einsum("hd,hdm->hm", z, model.W_O[layer])  # [head, d_model]
        heads.append(per_head @ u)
        post = cache[f"blocks.{layer}.mlp.hook_post"][0, pos]  # [d_mlp]
        neurons.append(post * (model.W_out[layer] @ u))
        biases += float(model.b_O[layer] @ u) + float(model.b_out[layer] @ u)
    return Attribution(embed, torch.stack(heads), torch.stack(neurons), biases, float(logits[0, pos, target]))


def _final_norm(model: HookedTransformer, x: Tensor) -> Tensor:
    norm = getattr(model, "ln_final", None)  # absent on norm-free models
    return x if norm is None else norm(x)


def _final_linear(model: HookedTransformer, x: Tensor, scale: Tensor | float) -> Tensor:
    """The final norm with its per-token scale frozen: x / scale * w (w folded into W_U when absent)."""
    w = getattr(getattr(model, "ln_final", None), "w", None)
    return x / scale * (w if w is not None else 1.0)


@torch.no_grad()
def frozen_scale_errors(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> dict[str, dict]:
    """Per component (the embedding, each layer's attention and MLP output): the frozen-scale
    attribution to the correct next token's logit against the component's actual direct effect.

    Returns ``{name: {"relative_error", "mean_abs_effect"}}``: mean |approximate - actual| over
    tokens divided by mean |actual| (0 on a norm-free model), and mean |actual|; positions 1 to
    the second-to-last.
    """
    n = model.cfg.n_layers
    names = ["hook_embed"] + [f"blocks.{layer}.hook_{part}_out" for layer in range(n) for part in ("attn", "mlp")]
    if "hook_pos_embed" in model.hook_dict and model.cfg.positional_embedding_type == "standard":
        names.insert(1, "hook_pos_embed")
    final = f"blocks.{n - 1}.hook_resid_post"
    _, cache = model.run_with_cache(tokens, names_filter=lambda h: h in names or h in (final, "ln_final.hook_scale"))
    # Queries from position 1 on: position 0 (the [EOS] starting a row) has an input-independent
    # residual stream of unusual scale, the same in every row.
    resid = cache[final][:, 1:-1]
    scale = cache["ln_final.hook_scale"][:, 1:-1] if "ln_final.hook_scale" in cache else 1.0
    unembed = model.W_U[:, tokens[:, 2:]].permute(1, 2, 0)  # [batch, pos, d_model]: the next token's column
    full = (_final_norm(model, resid) * unembed).sum(-1)
    out = {}
    for name in names:
        part = cache[name][:, 1:-1]
        actual = full - (_final_norm(model, resid - part) * unembed).sum(-1)
        approx = (_final_linear(model, part, scale) * unembed).sum(-1)
        size = float(actual.abs().mean())
        out[name] = {"relative_error": float((approx - actual).abs().mean()) / max(size, 1e-12),
                     "mean_abs_effect": size}
    return out

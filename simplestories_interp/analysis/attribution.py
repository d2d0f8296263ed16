"""Direct logit attribution that is exact on norm-free models.

Without normalisation the final residual stream is a sum of component outputs, and the logits
are that sum times W_U (plus b_U). So each component's contribution to a logit is its output
dotted with the token's unembedding column, and the contributions add up to the logit exactly:
the embedding, every attention head (``z @ W_O``, plus the attention output bias), and every MLP
neuron (``post[n] * W_out[n]``, plus the MLP output bias). With RMSNorm the same
decomposition is only approximate (the final norm's per-token scale couples everything), which
is the reason to remove norms (``ssi noln``).
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

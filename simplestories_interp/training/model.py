"""A fast Llama-style model for training: fused projections and fused attention.

HookedTransformer materialises every attention pattern in fp32 and is about 2x slower to
train (``shared/reference/libraries.md``), so training uses this plain implementation and
converts to a HookedTransformer afterwards. Speed comes from ``F.scaled_dot_product_attention``,
one matmul for Q, K and V, one for the gate and up projections of the SwiGLU MLP, and RoPE
tables computed once per forward. ``normalization="none"`` replaces every RMSNorm by identity;
``positional="absolute"`` adds learned absolute position embeddings instead of RoPE.
``attn_scale=1.0`` trains with GPT-Neo's unscaled attention scores (the TinyStories paper's
models); the export folds the factor into the queries, so a saved model is always in the standard
1/sqrt(d_head) convention and loads as a plain HookedTransformer.

Parameter names are our own; :func:`hf_keys` maps them to Hugging Face Llama names (the
fused weights split into q/k/v and gate/up), which is how the trainer exports checkpoints.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from simplestories_interp.errors import ConfigError
from simplestories_interp.zoo.registry import ModelSpec


def rope_tables(spec: ModelSpec, n_pos: int, device) -> tuple[Tensor, Tensor]:
    """cos/sin of shape [pos, rotary_dim] in the rotate-half (NeoX/HF) layout."""
    rd = spec.rotary_dims
    inv_freq = 1.0 / (spec.rotary_base ** (torch.arange(0, rd, 2, device=device, dtype=torch.float32) / rd))
    angles = torch.outer(torch.arange(n_pos, device=device, dtype=torch.float32), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: Float[Tensor, "batch head pos d_head"], cos: Tensor, sin: Tensor) -> Tensor:
    rd = cos.shape[-1]
    rot, rest = x[..., :rd], x[..., rd:]
    half = rd // 2
    rotated = torch.cat([-rot[..., half:], rot[..., :half]], dim=-1)
    out = rot * cos.to(x.dtype) + rotated * sin.to(x.dtype)
    return torch.cat([out, rest], dim=-1) if rest.shape[-1] else out


class RMSNorm(nn.Module):
    """RMSNorm; with ``fixed`` set, the per-token RMS is replaced by that constant (the step
    by which norm removal turns a norm site into a linear map, see ``training/noln.py``)."""

    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps
        self.fixed: float | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.fixed is not None:
            return x / self.fixed * self.weight
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def _norm(spec: ModelSpec) -> nn.Module:
    return RMSNorm(spec.d_model, spec.eps) if spec.normalization == "rms" else nn.Identity()


class Attention(nn.Module):
    def __init__(self, spec: ModelSpec, scale: float | None = None):
        super().__init__()
        self.spec, self.scale = spec, scale
        q, kv = spec.n_heads * spec.d_head, spec.n_key_value_heads * spec.d_head
        self.qkv = nn.Linear(spec.d_model, q + 2 * kv, bias=False)
        self.o = nn.Linear(q, spec.d_model, bias=False)

    def forward(self, x: Tensor, cos: Tensor | None, sin: Tensor | None) -> Tensor:
        s, (b, t, _) = self.spec, x.shape
        q_dim, kv_dim = s.n_heads * s.d_head, s.n_key_value_heads * s.d_head
        q, k, v = self.qkv(x).split([q_dim, kv_dim, kv_dim], dim=-1)
        q = q.view(b, t, s.n_heads, s.d_head).transpose(1, 2)
        k = k.view(b, t, s.n_key_value_heads, s.d_head).transpose(1, 2)
        v = v.view(b, t, s.n_key_value_heads, s.d_head).transpose(1, 2)
        if cos is not None:  # rotary positions; learned ones were added to the embeddings
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale,
                                           enable_gqa=s.n_key_value_heads != s.n_heads)
        return self.o(y.transpose(1, 2).reshape(b, t, q_dim))


class MLP(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.d_mlp = spec.d_mlp
        self.gate_up = nn.Linear(spec.d_model, 2 * spec.d_mlp, bias=False)
        self.down = nn.Linear(spec.d_mlp, spec.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).split(self.d_mlp, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, spec: ModelSpec, attn_scale: float | None = None):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.mlp = _norm(spec), Attention(spec, attn_scale), _norm(spec), MLP(spec)

    def forward(self, x: Tensor, cos: Tensor | None, sin: Tensor | None) -> Tensor:
        x = x + self.attn(self.ln1(x), cos, sin)
        return x + self.mlp(self.ln2(x))


class Llama(nn.Module):
    """The SimpleStories architecture (tied embeddings, pre-norm, RoPE, GQA, SwiGLU)."""

    def __init__(self, spec: ModelSpec, attn_scale: float | None = None):
        super().__init__()
        self.spec = spec
        # Saved weights use 1/sqrt(d_head); queries are multiplied by this on export (divided on import).
        self.query_fold = 1.0 if attn_scale is None else attn_scale * math.sqrt(spec.d_head)
        self.embed = nn.Embedding(spec.d_vocab, spec.d_model)
        self.pos = nn.Embedding(spec.n_ctx, spec.d_model) if spec.positional == "absolute" else None
        self.blocks = nn.ModuleList(Block(spec, attn_scale) for _ in range(spec.n_layers))
        self.ln_final = _norm(spec)
        self.init_weights()

    def init_weights(self) -> None:
        """normal(0, 0.02); attention output projections 0.02 / sqrt(2 n_layers) (the recipe)."""
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * self.spec.n_layers) if name.endswith("attn.o.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def zero_residual_branches(self) -> None:
        """Zero the attention and MLP output projections: each block starts as the identity."""
        with torch.no_grad():
            for block in self.blocks:
                block.attn.o.weight.zero_()
                block.mlp.down.weight.zero_()

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        cos = sin = None
        x = self.embed(tokens)
        if self.pos is None:
            cos, sin = rope_tables(self.spec, tokens.shape[1], tokens.device)
        else:
            x = x + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x, cos, sin)
        return F.linear(self.ln_final(x), self.embed.weight)


def next_token_loss(logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch n_ctx"],
                    reduction: str = "mean") -> Tensor:
    """Cross-entropy of predicting ``tokens[:, i + 1]`` from ``logits[:, i]`` (the one training loss).

    ``logits`` may cover every position of ``tokens`` or all but the last (as in training, where
    the inputs are the first n_ctx - 1 tokens of each row). ``reduction="none"`` gives
    ``[batch, n_ctx - 1]`` per-token losses.
    """
    logits = logits[:, : tokens.shape[1] - 1].float()
    loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(), reduction=reduction)
    return loss.view(tokens.shape[0], -1) if reduction == "none" else loss


def load_pretrained(name_or_path: str, *, n_ctx: int | None = None):
    """A trained model (zoo name, directory or hub id, either format) as a :class:`Llama` to
    fine-tune, with the loader's ``ModelDir`` (where it was found) -- for ``--init-from`` and norm removal.
    ``n_ctx`` may shorten the context (learned positions keep their first ``n_ctx``), not extend it."""
    from simplestories_interp.zoo.formats import detect_format, load_weights
    from simplestories_interp.zoo.loading import read_spec, resolve

    found = resolve(name_or_path)
    spec = read_spec(found)
    if n_ctx and n_ctx > spec.n_ctx:
        raise ConfigError(
            f"n_ctx {n_ctx} is above the n_ctx {spec.n_ctx} that {name_or_path!r} was trained "
            f"with; its position encoding never saw those positions. Use --n-ctx <= {spec.n_ctx}."
        )
    weights = load_weights(found.directory)
    model = Llama(dataclasses.replace(spec, n_ctx=n_ctx or spec.n_ctx))
    if detect_format(found.directory) == "native":
        from_tl_state(model, weights)
    else:
        from_hf_state(model, weights)
    return model, found


# our parameter name -> list of (HF key, slice of rows along dim 0)
def hf_keys(spec: ModelSpec) -> dict[str, list[tuple[str, slice]]]:
    """Explicit map from :class:`Llama` parameters to HF Llama keys (fused ones split by rows)."""
    q, kv, m = spec.n_heads * spec.d_head, spec.n_key_value_heads * spec.d_head, spec.d_mlp
    keys = {"embed.weight": [("model.embed_tokens.weight", slice(None))]}
    for i in range(spec.n_layers):
        hf, ours = f"model.layers.{i}.", f"blocks.{i}."
        keys[ours + "attn.qkv.weight"] = [(hf + "self_attn.q_proj.weight", slice(0, q)),
                                          (hf + "self_attn.k_proj.weight", slice(q, q + kv)),
                                          (hf + "self_attn.v_proj.weight", slice(q + kv, q + 2 * kv))]
        keys[ours + "attn.o.weight"] = [(hf + "self_attn.o_proj.weight", slice(None))]
        keys[ours + "mlp.gate_up.weight"] = [(hf + "mlp.gate_proj.weight", slice(0, m)),
                                             (hf + "mlp.up_proj.weight", slice(m, 2 * m))]
        keys[ours + "mlp.down.weight"] = [(hf + "mlp.down_proj.weight", slice(None))]
        if spec.normalization == "rms":
            keys[ours + "ln1.weight"] = [(hf + "input_layernorm.weight", slice(None))]
            keys[ours + "ln2.weight"] = [(hf + "post_attention_layernorm.weight", slice(None))]
    if spec.normalization == "rms":
        keys["ln_final.weight"] = [("model.norm.weight", slice(None))]
    return keys


def to_tl_state(model: Llama) -> dict[str, Tensor]:
    """The model's weights as a HookedTransformer state dict (any architecture, via the HF key map)."""
    from simplestories_interp.zoo.convert import hf_to_tl

    state = hf_to_tl(to_hf_state(model), model.spec)
    if model.pos is not None:
        state["pos_embed.W_pos"] = model.pos.weight.detach().clone()
    return state


def from_tl_state(model: Llama, tl_state: dict[str, Tensor]) -> None:
    """Load HookedTransformer-named weights (a native model directory) into a :class:`Llama`."""
    from simplestories_interp.zoo.convert import tl_to_hf

    from_hf_state(model, tl_to_hf(tl_state, model.spec))
    if model.pos is not None:
        with torch.no_grad():
            model.pos.weight.copy_(tl_state["pos_embed.W_pos"][: model.spec.n_ctx])


def load_standard_state(model: Llama, state: dict[str, Tensor]) -> None:
    """Load a standard-scaled :class:`Llama` state dict (a fine-tune's start) into ``model``,
    dividing the queries by its ``query_fold`` when it trains with another attention scale."""
    model.load_state_dict(state)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv.weight[: model.spec.n_heads * model.spec.d_head] /= model.query_fold


def to_hf_state(model: Llama) -> dict[str, Tensor]:
    """The model's weights under HF Llama names (norm-free models included; see convert), queries
    in the standard 1/sqrt(d_head) convention."""
    state, out = model.state_dict(), {}
    for ours, targets in hf_keys(model.spec).items():
        for hf_key, rows in targets:
            out[hf_key] = state[ours][rows].detach().clone()
            if hf_key.endswith("q_proj.weight"):
                out[hf_key] *= model.query_fold
    return out


def from_hf_state(model: Llama, hf_state: dict[str, Tensor]) -> None:
    """Load HF-named weights (e.g. an official checkpoint) into a :class:`Llama` to fine-tune."""
    with torch.no_grad():
        for ours, targets in hf_keys(model.spec).items():
            param = model.get_parameter(ours)
            for hf_key, rows in targets:
                fold = model.query_fold if hf_key.endswith("q_proj.weight") else 1.0
                param[rows].copy_(hf_state[hf_key] / fold)

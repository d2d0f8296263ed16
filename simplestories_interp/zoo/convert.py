"""HF Llama checkpoints <-> HookedTransformer weights: one explicit key map with shape checks.

``KEY_MAP`` is the whole conversion: each rule names a Hugging Face key, the
TransformerLens key it becomes, the shape the HF tensor must have for a given spec, and the
rearrangement between the two layouts. ``hf_to_tl`` and ``tl_to_hf`` walk the table in
opposite directions, so export and import cannot drift apart. Hugging Face names appear only
in this module, in :mod:`simplestories_interp.zoo.formats` (config.json) and in the trainer's
map of its fused weights (:func:`simplestories_interp.training.model.hf_keys`).

Both layouts use the NeoX "rotate-half" RoPE convention, so no permutation of the query/key
rows is needed (unlike Meta's original Llama weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import einops
import torch
from torch import Tensor
from transformer_lens import HookedTransformerConfig

from simplestories_interp.errors import WeightsMismatchError
from simplestories_interp.zoo.registry import ModelSpec

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Rule:
    """How one HF tensor maps to one HookedTransformer tensor."""

    hf: str
    """HF key; ``{L}`` stands for the layer index."""
    tl: str
    """TransformerLens key; ``{L}`` stands for the layer index."""
    hf_shape: Callable[[ModelSpec], Shape]
    """The shape the HF tensor must have for this spec."""
    to_tl: Callable[[Tensor, ModelSpec], Tensor]
    """HF layout -> TL layout."""
    to_hf: Callable[[Tensor, ModelSpec], Tensor]
    """TL layout -> HF layout."""
    norm: bool = False
    """Present only when the model has RMSNorm."""


def _same(w: Tensor, s: ModelSpec) -> Tensor:
    return w


def _transpose(w: Tensor, s: ModelSpec) -> Tensor:
    return w.T


def _split_heads(n: Callable[[ModelSpec], int]):
    """[n*h, m] (HF rows per head) <-> [n, m, h] (TL W_Q/W_K/W_V)."""

    def to_tl(w: Tensor, s: ModelSpec) -> Tensor:
        return einops.rearrange(w, "(n h) m -> n m h", n=n(s))

    def to_hf(w: Tensor, s: ModelSpec) -> Tensor:
        return einops.rearrange(w, "n m h -> (n h) m")

    return to_tl, to_hf


def _q_heads(s: ModelSpec) -> int:
    return s.n_heads


def _kv_heads(s: ModelSpec) -> int:
    return s.n_key_value_heads


def _o_to_tl(w: Tensor, s: ModelSpec) -> Tensor:
    return einops.rearrange(w, "m (n h) -> n h m", n=s.n_heads)


def _o_to_hf(w: Tensor, s: ModelSpec) -> Tensor:
    return einops.rearrange(w, "n h m -> m (n h)")


def _is_gqa(spec: ModelSpec) -> bool:
    return spec.n_key_value_heads != spec.n_heads


_KV = "{kv}"  # "_" for grouped-query attention, where TL names the K/V weights _W_K/_W_V

KEY_MAP: tuple[Rule, ...] = (
    Rule("model.embed_tokens.weight", "embed.W_E",
         lambda s: (s.d_vocab, s.d_model), _same, _same),
    Rule("model.layers.{L}.input_layernorm.weight", "blocks.{L}.ln1.w",
         lambda s: (s.d_model,), _same, _same, norm=True),
    Rule("model.layers.{L}.self_attn.q_proj.weight", "blocks.{L}.attn.W_Q",
         lambda s: (s.n_heads * s.d_head, s.d_model), *_split_heads(_q_heads)),
    Rule("model.layers.{L}.self_attn.k_proj.weight", "blocks.{L}.attn.{kv}W_K",
         lambda s: (s.n_key_value_heads * s.d_head, s.d_model), *_split_heads(_kv_heads)),
    Rule("model.layers.{L}.self_attn.v_proj.weight", "blocks.{L}.attn.{kv}W_V",
         lambda s: (s.n_key_value_heads * s.d_head, s.d_model), *_split_heads(_kv_heads)),
    Rule("model.layers.{L}.self_attn.o_proj.weight", "blocks.{L}.attn.W_O",
         lambda s: (s.d_model, s.n_heads * s.d_head), _o_to_tl, _o_to_hf),
    Rule("model.layers.{L}.post_attention_layernorm.weight", "blocks.{L}.ln2.w",
         lambda s: (s.d_model,), _same, _same, norm=True),
    Rule("model.layers.{L}.mlp.up_proj.weight", "blocks.{L}.mlp.W_in",
         lambda s: (s.d_mlp, s.d_model), _transpose, _transpose),
    Rule("model.layers.{L}.mlp.gate_proj.weight", "blocks.{L}.mlp.W_gate",
         lambda s: (s.d_mlp, s.d_model), _transpose, _transpose),
    Rule("model.layers.{L}.mlp.down_proj.weight", "blocks.{L}.mlp.W_out",
         lambda s: (s.d_model, s.d_mlp), _transpose, _transpose),
    Rule("model.norm.weight", "ln_final.w", lambda s: (s.d_model,), _same, _same, norm=True),
    Rule("lm_head.weight", "unembed.W_U", lambda s: (s.d_vocab, s.d_model), _transpose, _transpose),
)

# TL keeps bias tensors that Llama lacks; they are zero on import and must be zero on export.
_ZERO_BIASES: dict[str, Callable[[ModelSpec], Shape]] = {
    "blocks.{L}.attn.b_Q": lambda s: (s.n_heads, s.d_head),
    "blocks.{L}.attn.{kv}b_K": lambda s: (s.n_key_value_heads, s.d_head),
    "blocks.{L}.attn.{kv}b_V": lambda s: (s.n_key_value_heads, s.d_head),
    "blocks.{L}.attn.b_O": lambda s: (s.d_model,),
    "blocks.{L}.mlp.b_in": lambda s: (s.d_mlp,),
    "blocks.{L}.mlp.b_out": lambda s: (s.d_model,),
    "unembed.b_U": lambda s: (s.d_vocab,),
}


def _expand(template: str, spec: ModelSpec) -> list[str]:
    kv = "_" if _is_gqa(spec) else ""
    if "{L}" not in template:
        return [template.format(kv=kv)]
    return [template.format(L=layer, kv=kv) for layer in range(spec.n_layers)]


def _rules(spec: ModelSpec):
    """(rule, hf_key, tl_key) for every tensor of this architecture."""
    for rule in KEY_MAP:
        if rule.norm and spec.normalization != "rms":
            continue
        yield from ((rule, h, t) for h, t in zip(_expand(rule.hf, spec), _expand(rule.tl, spec), strict=True))


def hf_to_tl(hf_state: dict[str, Tensor], spec: ModelSpec) -> dict[str, Tensor]:
    """Convert a HF ``LlamaForCausalLM`` state dict to HookedTransformer keys and layouts.

    A missing ``lm_head.weight`` means tied embeddings. Every key and shape is checked first,
    and all problems are reported together.
    """
    hf_state = dict(hf_state)
    if "lm_head.weight" not in hf_state and "model.embed_tokens.weight" in hf_state:
        hf_state["lm_head.weight"] = hf_state["model.embed_tokens.weight"]
    problems, out = [], {}
    for rule, hf_key, tl_key in _rules(spec):
        tensor = hf_state.pop(hf_key, None)
        if tensor is None:
            problems.append(f"missing {hf_key}")
        elif tuple(tensor.shape) != rule.hf_shape(spec):
            problems.append(f"{hf_key} has shape {tuple(tensor.shape)}, expected {rule.hf_shape(spec)}")
        else:
            out[tl_key] = rule.to_tl(tensor, spec).contiguous()
    unexpected = [k for k in hf_state if not k.endswith("rotary_emb.inv_freq")]
    problems += [f"unexpected {k}" for k in unexpected[:5]]
    if problems:
        raise WeightsMismatchError(
            f"checkpoint does not match architecture {spec.name!r} "
            f"({len(problems)} problem(s)): " + "; ".join(problems[:6])
        )
    like = out["embed.W_E"]
    for template, shape in _ZERO_BIASES.items():
        for key in _expand(template, spec):
            out[key] = torch.zeros(shape(spec), dtype=like.dtype)
    return out


def tl_to_hf(tl_state: dict[str, Tensor], spec: ModelSpec) -> dict[str, Tensor]:
    """The inverse of :func:`hf_to_tl`; biases must be zero (Llama has none).

    For norm-free specs the result simply lacks the norm keys; such a state dict is a valid
    intermediate but not a checkpoint ``transformers`` can load (``save_hf`` refuses it).
    """
    for template in _ZERO_BIASES:
        for key in _expand(template, spec):
            if key in tl_state and tl_state[key].abs().max() > 0:
                raise WeightsMismatchError(f"{key} is non-zero; HF Llama has no biases")
    out = {}
    for rule, hf_key, tl_key in _rules(spec):
        if tl_key not in tl_state:
            raise WeightsMismatchError(f"missing {tl_key} in the HookedTransformer state dict")
        out[hf_key] = rule.to_hf(tl_state[tl_key], spec).contiguous()
    return out


def tl_config(spec: ModelSpec, *, device: str | torch.device = "cpu",
              dtype: torch.dtype = torch.float32) -> HookedTransformerConfig:
    """The HookedTransformerConfig of a spec (Llama-style, rotate-half RoPE, gated SiLU MLP)."""
    return HookedTransformerConfig(
        model_name=spec.name,
        n_layers=spec.n_layers,
        d_model=spec.d_model,
        n_heads=spec.n_heads,
        d_head=spec.d_head,
        d_mlp=spec.d_mlp,
        d_vocab=spec.d_vocab,
        d_vocab_out=spec.d_vocab,
        n_ctx=spec.n_ctx,
        n_key_value_heads=spec.n_key_value_heads if _is_gqa(spec) else None,
        act_fn="silu",
        gated_mlp=True,
        normalization_type="RMS" if spec.normalization == "rms" else None,
        final_rms=spec.normalization == "rms",
        eps=spec.eps,
        positional_embedding_type="rotary" if spec.positional == "rotary" else "standard",
        rotary_dim=spec.rotary_dims,
        rotary_base=spec.rotary_base,
        rotary_adjacent_pairs=False,
        original_architecture="LlamaForCausalLM",
        default_prepend_bos=True,
        tokenizer_prepends_bos=False,
        device=str(device),
        dtype=dtype,
    )

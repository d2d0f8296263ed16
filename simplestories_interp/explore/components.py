"""The components the explorer ranks and ablates: attention heads, MLP neurons and SAE latents.

A component is named by a short id that survives a URL: ``L1H3`` (layer 1, head 3), ``L2N17``
(layer 2, MLP neuron 17), ``S0F42`` (feature 42 of the first ``--sae``). This module parses the
ids (with the ranges checked), runs the model with any set of them ablated (zero, or the mean
over the corpus), and splits a logit (or a logit difference) into every component's direct
contribution: the component's write into the residual stream times the unembedding of the
target (minus the contrast), through the final norm with its per-position scale frozen. On a
model without norms that is exact (the contributions and the biases add up to the logit
difference); with norms it is the usual approximation whose error docs/norm_free.md measures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.errors import InvalidArgumentError

_ID = re.compile(r"^(?:L([0-9]{1,6})([HN])([0-9]{1,9})|S([0-9]{1,6})F([0-9]{1,9}))$")


@dataclass(frozen=True)
class SAEHandle:
    """An SAE loaded for the explorer: its name (the folder), the hook it reads and writes, the SAE."""

    name: str
    hook: str
    sae: object


@dataclass(frozen=True)
class Component:
    kind: str
    """``head``, ``neuron`` or ``latent``."""
    layer: int
    """The layer (for a latent: the index of its SAE)."""
    index: int

    @property
    def id(self) -> str:
        return {"head": f"L{self.layer}H{self.index}", "neuron": f"L{self.layer}N{self.index}",
                "latent": f"S{self.layer}F{self.index}"}[self.kind]


def parse_component(text: str, model: HookedTransformer, saes: list[SAEHandle]) -> Component:
    """A component id checked against the model and the SAEs."""
    match = _ID.match(text.strip())
    if not match:
        raise InvalidArgumentError(f"not a component id: {text!r}; use L<layer>H<head>, L<layer>N<neuron> or "
                                   "S<sae>F<feature> (e.g. L0H3, L1N17, S0F42)")
    if match.group(4) is not None:
        s, f = int(match.group(4)), int(match.group(5))
        if s >= len(saes):
            raise InvalidArgumentError(f"{text}: there is no SAE {s} ({len(saes)} loaded with --sae)")
        if f >= saes[s].sae.cfg.d_sae:
            raise InvalidArgumentError(f"{text}: SAE {s} has features 0..{saes[s].sae.cfg.d_sae - 1}")
        return Component("latent", s, f)
    layer, kind, index = int(match.group(1)), match.group(2), int(match.group(3))
    if layer >= model.cfg.n_layers:
        raise InvalidArgumentError(f"{text}: the model has layers 0..{model.cfg.n_layers - 1}")
    size = model.cfg.n_heads if kind == "H" else model.cfg.d_mlp
    if index >= size:
        what = "heads" if kind == "H" else "neurons"
        raise InvalidArgumentError(f"{text}: layer {layer} has {what} 0..{size - 1}")
    return Component("head" if kind == "H" else "neuron", layer, index)


def parse_components(text: str, model: HookedTransformer, saes: list[SAEHandle]) -> list[Component]:
    """A comma-separated list of ids (an empty string: none)."""
    return [parse_component(t, model, saes) for t in text.split(",") if t.strip()]


def hook_of(c: Component, saes: list[SAEHandle]) -> str:
    if c.kind == "head":
        return f"blocks.{c.layer}.attn.hook_z"
    if c.kind == "neuron":
        return f"blocks.{c.layer}.mlp.hook_post"
    return saes[c.layer].hook


def ablation_hooks(ablate: list[Component], saes: list[SAEHandle], means: dict[str, Tensor] | None
                   ) -> list[tuple[str, Callable]]:
    """Forward hooks that set each component to 0 (``means`` None) or to its corpus mean."""
    by_hook: dict[str, list[Component]] = {}
    for c in ablate:
        by_hook.setdefault(hook_of(c, saes), []).append(c)
    return [(hook, _ablate(group, saes, means)) for hook, group in by_hook.items()]


def _ablate(group: list[Component], saes: list[SAEHandle], means: dict[str, Tensor] | None) -> Callable:
    def hook(act: Tensor, hook) -> Tensor:
        # Every latent is read from the activation as it came, before any edit of this hook.
        codes = {c.layer: saes[c.layer].sae.encode(act.float()) for c in group if c.kind == "latent"}
        act = act.clone()
        for c in group:
            mean = means[c.id].to(act.device, act.dtype) if means is not None else None
            if c.kind == "latent":
                value = codes[c.layer][..., c.index:c.index + 1]
                target = mean if mean is not None else torch.zeros_like(value)
                act = act + ((target - value) * saes[c.layer].sae.W_dec[c.index].float()).to(act.dtype)
            elif c.kind == "head":
                act[:, :, c.index] = mean if mean is not None else 0.0
            else:
                act[..., c.index] = mean if mean is not None else 0.0
        return act
    return hook


def unembed_direction(model: HookedTransformer, target: int, contrast: int | None) -> Tensor:
    """The unembedding direction of ``target`` (minus ``contrast``'s), with the final norm's weight."""
    u = model.W_U[:, target] - (model.W_U[:, contrast] if contrast is not None else 0.0)
    norm = getattr(model, "ln_final", None)
    weight = getattr(norm, "w", None)
    return u * weight if weight is not None else u


def _through_norm(model: HookedTransformer, writes: Tensor, scale: Tensor | float) -> Tensor:
    """Component writes [n, d_model] as the final norm sees them, its scale frozen (LayerNorm centres too)."""
    if model.cfg.normalization_type in ("LN", "LNPre"):
        writes = writes - writes.mean(-1, keepdim=True)
    return writes / scale


@torch.no_grad()
def contributions(model: HookedTransformer, cache, pos: int, direction: Tensor,
                  saes: list[SAEHandle]) -> list[tuple[str, float]]:
    """(component id, direct contribution at ``pos`` along ``direction``) for every head, neuron and latent."""
    scale = cache["ln_final.hook_scale"][0, pos] if "ln_final.hook_scale" in cache else 1.0
    out: list[tuple[str, float]] = []
    for layer in range(model.cfg.n_layers):
        z = cache[f"blocks.{layer}.attn.hook_z"][0, pos]  # [head, d_head]
        heads = torch.einsum("hd,hdm->hm", z, model.W_O[layer])
        out += [(f"L{layer}H{h}", float(v)) for h, v in enumerate(_through_norm(model, heads, scale) @ direction)]
        post = cache[f"blocks.{layer}.mlp.hook_post"][0, pos]  # [d_mlp]
        per_neuron = post * (_through_norm(model, model.W_out[layer], scale) @ direction)
        out += [(f"L{layer}N{n}", float(v)) for n, v in enumerate(per_neuron)]
    for s, handle in enumerate(saes):
        acts = handle.sae.encode(cache[handle.hook][0, pos].float())
        writes = _through_norm(model, residual_writes(model, handle), scale) @ direction.float()
        out += [(f"S{s}F{f}", float(acts[f] * writes[f])) for f in torch.nonzero(acts).flatten().tolist()]
    return out


def residual_writes(model: HookedTransformer, handle: SAEHandle) -> Tensor:
    """[d_sae, d_model]: what each latent's decoder row writes into the residual stream (through
    ``W_out`` for an SAE on MLP neurons; as it is on a residual, attention or MLP output hook)."""
    w_dec = handle.sae.W_dec.detach().float()
    if handle.hook.endswith("mlp.hook_post"):
        return w_dec @ model.W_out[int(handle.hook.split(".")[1])].float()
    return w_dec


def attribution_method(model: HookedTransformer) -> str:
    if model.cfg.normalization_type is None:
        return ("direct logit attribution, exact: the model has no normalisation, so each component's write "
                "times the unembedding is its share of the logit")
    return ("direct logit attribution with the final norm's scale frozen at this position (an approximation on "
            "a normalised model; docs/norm_free.md measures its error)")

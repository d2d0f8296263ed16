"""Hook names of a HookedTransformer: validating them, and running a model up to the last one needed.

Every analysis (the activation store, neuron scans, SAE activations and metrics) reads hooks the
same way: names checked with close-match suggestions, the forward pass stopped after the last
block that holds a requested hook, activations flattened to ``[tokens, d]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.errors import InvalidArgumentError, UnknownHookError


def layer_of(name: str) -> int | None:
    """The block index written in a hook name (``blocks.3.mlp.hook_post`` -> 3); None for other hooks.
    The one parser of hook names (the model's hooks are checked by :func:`hook_layer`)."""
    parts = name.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[0] == "blocks" and parts[1].isdigit() else None


def hook_layer(model: HookedTransformer, name: str) -> int | None:
    """The block a hook lives in (-1 before the blocks, None after them: needs the full pass)."""
    if name not in model.hook_dict:
        raise UnknownHookError(name, model.hook_dict.keys())
    if (layer := layer_of(name)) is not None:
        return layer
    return -1 if name.startswith(("hook_embed", "hook_pos_embed", "hook_tokens")) else None


def parse_hooks(model: HookedTransformer, hooks: Sequence[str]) -> list[str]:
    """Validate hook names; ``L`` in a name like ``blocks.L.mlp.hook_post`` must be a layer."""
    if not hooks:
        raise InvalidArgumentError("give at least one hook name, e.g. blocks.0.mlp.hook_post")
    for name in hooks:
        layer = layer_of(name)
        if layer is not None and layer >= model.cfg.n_layers:
            raise InvalidArgumentError(
                f"layer {layer} in {name!r} is out of range: the model has layers 0..{model.cfg.n_layers - 1}")
        hook_layer(model, name)
    return list(dict.fromkeys(hooks))


def stop_layer(model: HookedTransformer, hooks: Sequence[str]) -> int | None:
    layers = [hook_layer(model, h) for h in hooks]
    return None if any(layer is None for layer in layers) else max(layers) + 1


@torch.no_grad()
def run_hooks(model: HookedTransformer, tokens: torch.Tensor, hooks: Sequence[str],
              stop: int | None) -> dict[str, torch.Tensor]:
    """Activations of the given hooks for a batch, flattened to [batch * pos, d]."""
    out: dict[str, torch.Tensor] = {}

    def save(act: torch.Tensor, hook) -> None:
        out[hook.name] = act.reshape(-1, act.shape[-1]) if act.dim() == 3 else act.flatten(0, 1).flatten(1)

    model.run_with_hooks(tokens, fwd_hooks=[(h, save) for h in hooks], stop_at_layer=stop,
                         return_type=None)
    return out

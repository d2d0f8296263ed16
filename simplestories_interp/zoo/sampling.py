"""Sampling text from a loaded model, for ``ssi generate`` and notebooks.

A thin, seeded wrapper over ``HookedTransformer.generate`` with a KV cache: it prepends
``[EOS]`` as BOS (as in training), stops at the next ``[EOS]`` (the end of a story) and
returns only the text, without special tokens.
"""

from __future__ import annotations

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.files import require_utf8


def generate(
    model: HookedTransformer,
    prompt: str,
    *,
    max_new_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
) -> str:
    """Continue ``prompt``; ``temperature=0`` is greedy. Returns prompt + continuation."""
    if max_new_tokens < 1:
        raise InvalidArgumentError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise InvalidArgumentError(f"temperature must be >= 0, got {temperature}")
    if not isinstance(prompt, str):
        raise InvalidArgumentError(f"prompt must be text (str), got {type(prompt).__name__} {prompt!r:.40}")
    require_utf8(prompt, "prompt")
    tokens = model.to_tokens(prompt)
    room = model.cfg.n_ctx - tokens.shape[1]
    if room < 1:
        raise InvalidArgumentError(
            f"the prompt is {tokens.shape[1]} tokens long; the model's context is n_ctx={model.cfg.n_ctx}"
        )
    if seed is not None:
        torch.manual_seed(seed)
    out = model.generate(
        tokens,
        max_new_tokens=min(max_new_tokens, room),
        do_sample=temperature > 0,
        temperature=temperature if temperature > 0 else 1.0,
        top_k=top_k,
        stop_at_eos=True,
        use_past_kv_cache=True,
        return_type="tokens",
        verbose=False,
    )
    return model.tokenizer.decode(out[0], skip_special_tokens=True)

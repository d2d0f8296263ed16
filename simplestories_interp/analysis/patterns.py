"""The tokens of a paragraph and every layer's attention patterns on it, for the head figures and the
attention view: the model runs here, so the HTML kit (:mod:`simplestories_interp.render`) only draws.
Tokens are spelled as the text spells them (through the tokenizer's offsets), not as the lowercased
vocabulary does.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def sentence_patterns(model, text: str, *,
                      prepend_bos: bool = True) -> tuple[list[str], list[Float[Tensor, "head q k"]]]:
    """The tokens of ``text`` and every layer's attention patterns on it (on the CPU)."""
    tokens = model.to_tokens(text, prepend_bos=prepend_bos)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"),
                                        stop_at_layer=model.cfg.n_layers)  # no logits: [pos, d_vocab] unused
    patterns = [cache[f"blocks.{layer}.attn.hook_pattern"][0].cpu() for layer in range(model.cfg.n_layers)]
    return text_tokens(model, text, prepend_bos=prepend_bos), patterns


def text_tokens(model, text: str, *, prepend_bos: bool = True) -> list[str]:
    """The tokens of ``text`` spelled as the text spells them: the SimpleStories tokenizer lowercases and
    maps characters it cannot spell to ``[UNK]``, but a figure should show the story's own words, as
    the neuron views do. Read through the tokenizer's character offsets; a token glued to the one
    before it (no space between) is prefixed ``##``, which ``render.thumbnails.highlighted_sentence``
    joins; a byte-level BPE token (GPT-2's) that starts with its space is a new word, and a token of
    whitespace alone shows as ``␣``. Falls back to the vocabulary strings where a tokenizer gives no
    offsets that line up."""
    str_tokens = [str(t) for t in model.to_str_tokens(text, prepend_bos=prepend_bos)]
    try:
        offsets = model.tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    except (TypeError, ValueError, NotImplementedError, KeyError):  # a slow tokenizer has no offsets
        return str_tokens
    n_special = len(str_tokens) - len(offsets)
    if n_special not in (0, 1) or any(a < b_prev for (a, _), (_, b_prev) in zip(offsets[1:], offsets, strict=False)):
        return str_tokens  # byte pieces of one character share offsets: keep the vocabulary's strings
    out, previous_end = str_tokens[:n_special], None
    for start, end in offsets:
        span = text[start:end]  # a byte-level BPE token carries the space before its word
        glued = start == previous_end and not span[:1].isspace() and not text[start - 1: start].isspace()
        out.append(("##" if glued else "") + (span.strip() or "␣"))
        previous_end = end
    return out

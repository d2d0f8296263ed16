"""Top-activating tokens per neuron (TinyStories Fig. 21, Neuroscope), streamed and exact.

:func:`scan` runs a model over rows once and keeps, for every unit of a hook (an MLP neuron of
``blocks.L.mlp.hook_post`` by default, a residual-stream direction, or later an SAE feature),
its ``k`` largest activations and where they happened: memory is O(units x k) whatever the
corpus size. Alongside it keeps a fixed random sample of token positions with all units'
activations, from which the views draw quantile-sampled examples and histograms.

On the synthetic corpus each token's annotated roles are known, so :func:`explain` finds
for each unit the role that best explains its top activations (precision among the top k).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import parse_hooks, run_hooks, stop_layer
from simplestories_interp.data.rows import Rows, build_rows

# Roles that are whole-span context (every token of a quotation) say little about a neuron.
_IGNORED_ROLES = {"dialogue"}


@dataclass
class TopK:
    """The result of a scan: per unit, the top-k activations and their token positions."""

    hook: str
    values: Float[Tensor, "units k"]
    index: Tensor
    """[units, k] flat token index into ``rows.tokens`` (row * n_ctx + pos)."""
    sample_values: Float[Tensor, "samples units"]
    sample_index: Tensor
    """[samples] flat token index of each sampled position."""
    rows: Rows
    max_per_unit: Tensor
    """[units] largest activation of each unit (== values[:, 0])."""

    @property
    def n_units(self) -> int:
        return self.values.shape[0]

    def where(self, flat: int) -> tuple[int, int]:
        return divmod(int(flat), self.rows.n_ctx)


@torch.no_grad()
def topk_update(values: Tensor, index: Tensor, acts: Float[Tensor, "tokens units"], offset: int, k: int):
    """Merge a batch of activations into running top-k (values/index: [units, k'])."""
    batch_index = torch.arange(offset, offset + acts.shape[0]).expand(acts.shape[1], -1)
    all_values = torch.cat([values, acts.T.float()], dim=1)
    all_index = torch.cat([index, batch_index], dim=1)
    top = all_values.topk(min(k, all_values.shape[1]), dim=1)
    return top.values, all_index.gather(1, top.indices)


@torch.no_grad()
def scan(
    model: HookedTransformer,
    hook: str = "blocks.0.mlp.hook_post",
    *,
    rows: Rows | None = None,
    source: str = "synthetic",
    n_stories: int = 20,
    k: int = 20,
    batch_size: int = 8,
    n_samples: int = 2000,
    transform=None,
    progress: bool = False,
    seed: int = 0,
) -> TopK:
    """Stream ``rows`` (or ``n_stories`` of ``source``) through ``model``; top-k per unit.

    ``transform`` maps a [tokens, d] activation to [tokens, units] (e.g. an SAE encoder).
    """
    (hook,) = parse_hooks(model, [hook])
    if rows is None:  # a short file is read whole: its last tokens go in a padded row
        rows = build_rows(source, model.tokenizer, model.cfg.n_ctx, n_stories, pad=True)
    stop, device = stop_layer(model, [hook]), next(model.parameters()).device
    inside = np.flatnonzero(rows.in_story.ravel())  # padding is never a top or sampled token
    rng = np.random.default_rng(seed)
    sample_index = np.sort(rng.choice(inside, size=min(n_samples, len(inside)), replace=False))
    k = min(k, len(inside))
    padding = torch.from_numpy(~rows.in_story.ravel())
    values = index = samples = None
    for start in tqdm(range(0, len(rows.tokens), batch_size), disable=not progress, desc="scanning"):
        batch = torch.from_numpy(rows.tokens[start:start + batch_size]).to(device)
        acts = run_hooks(model, batch, [hook], stop)[hook]
        acts = (transform(acts) if transform else acts).float().cpu()
        offset = start * rows.n_ctx
        acts[padding[offset:offset + len(acts)]] = -torch.inf
        if values is None:
            values = torch.empty(acts.shape[1], 0)
            index = torch.empty(acts.shape[1], 0, dtype=torch.long)
            samples = torch.empty(0, acts.shape[1])
        values, index = topk_update(values, index, acts, offset, k)
        local = sample_index[(sample_index >= offset) & (sample_index < offset + len(acts))] - offset
        samples = torch.cat([samples, acts[torch.from_numpy(local)]])
    return TopK(hook, values, index, samples, torch.from_numpy(sample_index), rows, values[:, 0])


def quantile_examples(top: TopK, unit: int, n: int = 5) -> list[tuple[float, int]]:
    """(activation, flat token index) of sampled tokens at evenly spaced activation quantiles."""
    acts = top.sample_values[:, unit]
    order = torch.argsort(acts)
    picks = np.linspace(0, len(order) - 1, n).round().astype(int)
    return [(acts[order[i]].item(), int(top.sample_index[order[i]])) for i in picks]


MIN_ROLE_PRECISION = 0.5
"""A unit's role is shown only if at least this share of its top-k tokens carry it ..."""
MIN_ROLE_LIFT = 2.0
"""... and that share is at least this many times the role's base rate (no label at chance)."""


def role_clears(precision: float, base_rate: float) -> bool:
    """Whether a role at this precision among a unit's top tokens is a label, not chance."""
    return precision >= MIN_ROLE_PRECISION and precision >= MIN_ROLE_LIFT * base_rate > 0


@dataclass
class Explanation:
    unit: int
    role: str | None
    """The role with the best precision among the unit's top-k tokens (shown or not)."""
    precision: float
    """Share of the unit's top-k tokens that carry ``role``."""
    base_rate: float
    """Share of all tokens that carry ``role`` (what precision would be by chance)."""

    @property
    def lift(self) -> float:
        return self.precision / self.base_rate if self.base_rate > 0 else 0.0

    @property
    def shown_role(self) -> str | None:
        """``role`` if it clears :data:`MIN_ROLE_PRECISION` and :data:`MIN_ROLE_LIFT`, else None ("none")."""
        return self.role if self.role and role_clears(self.precision, self.base_rate) else None

    def describe(self, k: int | None = None) -> str:
        """"role R (precision p, base rate b)" or "role none" with the best candidate below threshold."""
        top = f" in the top {k}" if k else ""
        if self.role is None:
            return "role none (no role among its top tokens)"
        what = f"{self.role} (precision {self.precision:.2f}{top}, base rate {self.base_rate:.2f})"
        if self.shown_role:
            return f"role {what}"
        return (f"role none (best: {what}; a role needs precision >= {MIN_ROLE_PRECISION} and "
                f">= {MIN_ROLE_LIFT:g}x its base rate)")


def explain(top: TopK, min_activation: float = 0.0, only: Collection[str] | None = None,
            prefer_shown: bool = True) -> list[Explanation]:
    """For each unit, the annotated role with the highest precision among its top-k tokens.

    Only top tokens with activation above ``min_activation`` count (a dead unit's "top"
    tokens are noise); units with none get role ``None``. ``only`` restricts the candidate roles
    (e.g. to the semantic ones). ``prefer_shown``: among roles above the display thresholds, the
    most precise (so a unit with a qualifying role is not shown as "none" because a role with a high
    base rate has a higher precision); ``False`` takes the most precise role of all (the basis
    comparison's statistic).
    """
    inside = top.rows.in_story.ravel()  # base rates count the stories' tokens, not padding
    roles = {r: m.ravel() for r, m in top.rows.roles().items()
             if r not in _IGNORED_ROLES and (only is None or r in only)}
    base = {r: float(m[inside].mean()) for r, m in roles.items()}
    out = []
    for unit in range(top.n_units):
        keep = top.values[unit] > min_activation
        idx = top.index[unit][keep].numpy()
        if len(idx) == 0 or not roles:  # a dead unit, or no roles on this text
            out.append(Explanation(unit, None, 0.0, 0.0))
            continue
        precision = {r: float(m[idx].mean()) for r, m in roles.items()}
        shown = [r for r in precision if role_clears(precision[r], base[r])]
        best = max(shown if prefer_shown and shown else precision, key=lambda r: (precision[r], -base[r]))
        if precision[best] == 0:
            out.append(Explanation(unit, None, 0.0, 0.0))
        else:
            out.append(Explanation(unit, best, precision[best], base[best]))
    return out


def count_roles(roles) -> dict[str, int]:
    """How many of ``roles`` name each role, the most frequent first (ties in order of appearance):
    the one role counter of neurons, SAE features and the basis control."""
    return dict(Counter(roles).most_common())


def role_summary(explanations: list[Explanation], threshold: float = 0.8) -> dict:
    """How many units have a shown role with precision >= threshold, and which roles."""
    strong = [e for e in explanations if e.shown_role and e.precision >= threshold]
    return {"units": len(explanations), "with_role": len(strong), "threshold": threshold,
            "by_role": count_roles(e.role for e in strong)}


def token_strings(tokenizer, ids: list[int]) -> list[str]:
    """How a vocabulary's tokens read: the vocabulary strings of a WordPiece tokenizer ("the",
    "##ing"), the decoded text of a byte-level BPE one (GPT-2's "Ġthe" reads " the")."""
    tokens = tokenizer.convert_ids_to_tokens(ids)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and type(backend.decoder).__name__ == "ByteLevel":
        return [tokenizer.convert_tokens_to_string([t]) for t in tokens]
    return tokens


def direction_logit_effect(model: HookedTransformer, direction: Tensor, n: int = 8) -> tuple[list, list]:
    """Top and bottom tokens of a residual-stream direction's direct effect on the logits.

    The final norm's weight is included, and a LayerNorm's centring (GPT-Neo's, the TinyStories
    paper's models); its per-token scale is not: it is positive and the same for every output
    token, so the ranking is unaffected.
    """
    direction = direction.to(model.W_U.device, model.W_U.dtype)
    if model.cfg.normalization_type in ("LN", "LNPre"):
        direction = direction - direction.mean()
    if model.cfg.normalization_type in ("RMS", "LN"):
        direction = direction * model.ln_final.w
    effect = direction @ model.W_U
    top, bottom = effect.topk(n), (-effect).topk(n)
    names = lambda idx: token_strings(model.tokenizer, idx.tolist())  # noqa: E731
    return ([(t, v.item()) for t, v in zip(names(top.indices), top.values, strict=True)],
            [(t, -v.item()) for t, v in zip(names(bottom.indices), bottom.values, strict=True)])


def logit_effect(model: HookedTransformer, layer: int, neuron: int, n: int = 8) -> tuple[list, list]:
    """Direct logit effect of an MLP neuron: its output direction W_out[layer, neuron] . W_U."""
    return direction_logit_effect(model, model.W_out[layer, neuron], n)

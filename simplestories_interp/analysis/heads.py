"""Attention-head statistics and classes: positional, semantic, mixed, first-token sink.

The TinyStories paper (Eldan & Li 2023, Sec. 5) splits the heads of a 1-layer model into
distance-based heads (each attends to a fixed relative offset) and semantic heads (whose
pattern depends on meaning, e.g. attending to the characters' names). We measure both over
a corpus, per head, with the criteria of the papers it cites:

* Voita et al. 2019: the share of queries whose maximum attention falls on one relative
  offset (the head's offset), and the confidence (mean maximum weight);
* Clark et al. 2019: the mean attention to each relative offset (-1 ... -16) and to the first
  token, and the entropy of each query's distribution (smoothed, normalised by log(q+1));
* a semantic score: the attention mass that goes beyond a local window to content tokens
  (not [EOS], not punctuation), to mentions of entities (names, the object, places: annotated
  on the synthetic corpus, tagged by :mod:`..data.tagger` elsewhere), to earlier mentions of the
  *same* entity, and by role. Text without any entity leaves the entity statistics undefined
  (``None``), not 0.

Classes (thresholds are :class:`Thresholds` fields, defaults from the literature):
``sink`` (mean attention to the first token >= 0.6, Clark's special-token threshold),
``positional`` (Voita share >= 0.9 or mean attention to one offset >= 0.5, Clark's position
threshold), ``semantic`` (far content mass >= 0.5 and either an entity lift >= 1.5 or a
normalised entropy <= 0.6 with a named semantic top role: uniform attention also lands mostly far
away, so it needs a preference for entities or focus on a kind of word; focus alone is not enough,
since a near-hard head is focused wherever it looks; these thresholds are ours), else ``mixed``. A head's top role is
named only when its far attention favours the role at least ``role_lift`` (1.5) times over the
role's share of the far keys; below that it is ``None`` (no label at chance).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.neurons import token_strings
from simplestories_interp.data.rows import Rows, build_rows, entity_ids, is_semantic_role
from simplestories_interp.errors import ConfigError, InvalidArgumentError, did_you_mean, require_positive
from simplestories_interp.zoo.loading import as_model

MAX_OFFSET = 16


@dataclass(frozen=True)
class Thresholds:
    """Classification thresholds (defaults: Voita et al. 2019, Clark et al. 2019)."""

    positional_share: float = 0.9
    """Voita: a head is positional if its argmax falls on one offset this often."""
    offset_attention: float = 0.5
    """Clark: ... or if its mean attention to one offset is at least this."""
    sink: float = 0.6
    """Clark's special-token threshold: mean attention to the first token."""
    semantic: float = 0.5
    """Far content mass (beyond ``window``) for a semantic head ..."""
    entity_lift: float = 1.5
    """... that also seeks entities (this many times their share of the far keys) ..."""
    max_entropy: float = 0.6
    """... or is focused (normalised entropy at most this) on a semantic role (its named top role is not a
    token-identity role, [EOS] or dialogue); broad uniform heads, and focused heads without such a
    preference, are mixed."""
    window: int = 3
    """Keys within this distance of the query are local, not semantic."""
    role_lift: float = 1.5
    """A head's top role is named only if the head favours it this many times over uniform."""
    role_mass: float = 0.05
    """... and the role gets at least this share of the head's far attention."""

    def __post_init__(self) -> None:
        bad = {k: v for k, v in asdict(self).items()
               if not 0 <= v < math.inf or (k == "window" and v != int(v))}  # NaN fails 0 <= v
        if bad:
            raise ConfigError(f"head thresholds must be finite and non-negative (window an integer), got {bad}")


def parse_thresholds(items: list[str] | None) -> Thresholds:
    """:class:`Thresholds` with ``NAME=VALUE`` overrides (the CLI's ``--thresholds``)."""
    names = [f.name for f in dataclasses.fields(Thresholds)]
    values: dict[str, float] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or name not in names:
            raise InvalidArgumentError(f"--thresholds takes NAME=VALUE with NAME one of {', '.join(names)}; got "
                                       f"{item!r}{did_you_mean(name, names) if eq else ''}")
        try:
            values[name] = int(value) if name == "window" else float(value)
        except ValueError:
            raise InvalidArgumentError(f"--thresholds {item!r}: {value!r} is not a number") from None
    return Thresholds(**values)


@dataclass
class _Acc:
    """Running sums for all heads of one layer ([n_heads] or [n_heads, ...] tensors)."""

    n_heads: int
    roles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        h = self.n_heads
        z = lambda *s: torch.zeros(h, *s, dtype=torch.float64)  # noqa: E731
        self.queries, self.conf, self.entropy = z(), z(), z()
        self.argmax = z(MAX_OFFSET + 2)  # offsets 0..-16, then "first token"
        self.offset_sum, self.offset_n = z(MAX_OFFSET + 1), z(MAX_OFFSET + 1)
        self.first, self.far, self.far_content, self.entity, self.entity_base = z(), z(), z(), z(), z()
        self.same_entity, self.same_n = z(), z()
        self.role_mass, self.role_base = z(len(self.roles)), z(len(self.roles))


@torch.no_grad()
def accumulate(acc: _Acc, pattern: Float[Tensor, "batch head q k"], content: Tensor, entity: Tensor,
               roles: Tensor | None, window: int, in_story: Tensor | None = None,
               attn_window: int | None = None) -> None:
    """Add one batch of attention patterns to the running sums.

    ``content``/``entity``: [batch, k] bool / int64 (-1 = no entity); ``roles``: [batch, R, k];
    ``in_story``: [batch, q] bool, False for padding after a story's end (those queries are skipped).
    ``attn_window``: a local-attention layer's window (GPT-Neo's: a query sees the keys less than
    this many tokens back); keys beyond it are not in the far keys a head could have chosen, so they
    count neither in the uniform baselines nor in the entropy's normalisation.
    """
    b, h, q_len, _ = pattern.shape
    in_story = torch.ones(b, q_len, dtype=torch.bool) if in_story is None else in_story
    pattern = pattern.double() * in_story[:, None, :, None]
    q = torch.arange(q_len)
    valid = (in_story & (q >= 1)).double()  # [b, q]; the first query can only attend to itself
    acc.queries += valid.sum()
    mx, arg = pattern.max(-1)
    acc.conf += (mx * valid[:, None]).sum((0, 2))
    offset = (q - arg).clamp(max=MAX_OFFSET + 1)  # distance back; >16 lumped with "first"
    bucket = torch.where(arg == 0, MAX_OFFSET + 1, offset.clamp(max=MAX_OFFSET + 1))
    hits = torch.nn.functional.one_hot(bucket, MAX_OFFSET + 2).double() * valid[:, None, :, None]
    acc.argmax += hits.sum((0, 2))
    for o in range(MAX_OFFSET + 1):
        diag = pattern.diagonal(offset=-o, dim1=-2, dim2=-1)  # A[q, q - o]
        acc.offset_sum[:, o] += diag.sum((0, 2))
        acc.offset_n[:, o] += in_story[:, o:].sum()
    acc.first += pattern[:, :, 1:, 0].sum((0, 2))
    seen = reachable(q_len, attn_window)  # [q, k]
    n_seen = seen.sum(-1).double()
    smoothed = 0.9999 * pattern + 0.0001 / n_seen[:, None]
    ent = -(smoothed * smoothed.log() * seen.double()).sum(-1) / torch.log(n_seen).clamp(min=1e-9)
    acc.entropy += (ent * valid[:, None]).sum((0, 2))
    far_mask = ((q[None, :] < q[:, None] - window) & (q[None, :] >= 1) & seen).double()  # [q, k]
    far = pattern * far_mask
    acc.far += far.sum((0, 2, 3))
    acc.far_content += (far * content[:, None, None, :].double()).sum((0, 2, 3))
    is_entity = (entity >= 0).double()[:, None, None, :]
    acc.entity += (far * is_entity).sum((0, 2, 3))
    # What the same far mass would give entities if spread uniformly over the far keys.
    frac = (far_mask[None] * is_entity[:, 0]).sum(-1) / far_mask.sum(-1).clamp(min=1)  # [b, q]
    acc.entity_base += (far.sum(-1) * frac[:, None]).sum((0, 2))
    same = (entity[:, :, None] == entity[:, None, :]) & (entity[:, :, None] >= 0)  # [b, q, k]
    same = same & (q[None, None, :] < q[None, :, None])
    acc.same_entity += (pattern * same[:, None].double()).sum((0, 2, 3))
    acc.same_n += ((entity >= 0) & in_story).sum() * 1.0
    if roles is not None:
        roles = roles.double()
        acc.role_mass += torch.einsum("bhqk,brk->hr", far, roles)
        role_frac = torch.einsum("qk,brk->brq", far_mask, roles) / far_mask.sum(-1).clamp(min=1)
        acc.role_base += torch.einsum("bhq,brq->hr", far.sum(-1), role_frac)


def reachable(n: int, attn_window: int | None = None) -> Tensor:
    """[q, k] bool: the keys a query can attend to (causal; within a local layer's window)."""
    q = torch.arange(n)
    seen = q[None, :] <= q[:, None]
    return seen & (q[:, None] - q[None, :] < attn_window) if attn_window else seen


def attention_window(model: HookedTransformer, layer: int) -> int | None:
    """The window of a local-attention layer (GPT-Neo alternates global and local layers), else None."""
    types = getattr(model.cfg, "attn_types", None)
    return model.cfg.window_size if types is not None and types[layer] == "local" else None


@dataclass
class HeadStats:
    """Statistics and class of one head (one row of the results table)."""

    layer: int
    head: int
    head_class: str
    offset: int | None
    """The head's dominant relative offset (-1 = previous token), if positional."""
    positional_share: float
    confidence: float
    first_token: float
    entropy: float
    far_content: float
    entity_lift: float | None
    """Far attention to entity mentions divided by what uniform attention would give (None: the
    text has no entity mentions)."""
    same_entity: float | None
    """Mean attention from a mention to earlier mentions of the same entity (None: no mentions)."""
    top_role: str | None
    """The role whose tokens the head's far attention favours most, relative to their share
    of the far keys (among roles receiving at least ``role_mass`` of that attention); None unless
    that lift is at least ``role_lift``."""
    top_role_lift: float | None
    """That lift (None when no role qualifies for the comparison)."""
    offset_attention: list[float]
    """Mean attention to offsets 0, -1, ..., -16."""
    argmax_offsets: list[float]
    """The raw argmax histogram: share of queries whose maximum falls on offset 0, -1, ..., -16, and
    (last entry) further back or on the first token."""


def _top_role(acc: _Acc, h: int, t: Thresholds) -> tuple[str | None, float | None]:
    if not acc.roles or acc.far[h] <= 0:
        return None, None
    lift = acc.role_mass[h] / acc.role_base[h].clamp(min=1e-12)
    lift[acc.role_mass[h] < t.role_mass * acc.far[h]] = 0
    best = float(lift.max())
    if best <= 0:
        return None, None
    return (acc.roles[int(lift.argmax())] if best >= t.role_lift else None), round(best, 3)


def _finish(acc: _Acc, layer: int, t: Thresholds) -> list[HeadStats]:
    out = []
    share_all = acc.argmax / acc.queries.clamp(min=1)[:, None]
    mean_offset = acc.offset_sum / acc.offset_n.clamp(min=1)
    n_valid = acc.queries.clamp(min=1)
    for h in range(acc.n_heads):
        best = int(share_all[h, : MAX_OFFSET + 1].argmax())
        share = float(share_all[h, best])
        first = float(acc.first[h] / n_valid[h])
        far_content = float(acc.far_content[h] / n_valid[h])
        lift = float(acc.entity[h] / acc.entity_base[h]) if acc.entity_base[h] > 0 else None
        entropy = float(acc.entropy[h] / n_valid[h])
        top_role, role_lift = _top_role(acc, h, t)
        best_mean = int(mean_offset[h].argmax())
        if first >= t.sink:
            cls, offset = "sink", None
        elif share >= t.positional_share or float(mean_offset[h, best_mean]) >= t.offset_attention:
            cls, offset = "positional", -(best if share >= t.positional_share else best_mean)
        elif far_content >= t.semantic and ((lift or 0.0) >= t.entity_lift or (
                entropy <= t.max_entropy and top_role is not None and is_semantic_role(top_role))):
            cls, offset = "semantic", None
        else:
            cls, offset = "mixed", None
        out.append(HeadStats(layer, h, cls, offset, share, float(acc.conf[h] / n_valid[h]), first,
                             entropy, far_content, lift,
                             float(acc.same_entity[h] / acc.same_n[h]) if acc.same_n[h] > 0 else None,
                             top_role, role_lift,
                             [round(float(x), 4) for x in mean_offset[h]],
                             [round(float(x), 4) for x in share_all[h]]))
    return out


_PUNCT = re.compile(r"^\W+$")


def content_mask(rows: Rows, tokenizer) -> np.ndarray:
    """[rows, n_ctx] True for word tokens (not special tokens such as [EOS] or <|endoftext|>, not
    punctuation; a byte-level token is read as its text, so GPT-2's "Ġ," is punctuation)."""
    special = set(tokenizer.all_special_ids)
    vocab = token_strings(tokenizer, list(range(len(tokenizer))))
    is_content = np.array([i not in special and not _PUNCT.match(t.strip() or ".") and not t.startswith("[")
                           for i, t in enumerate(vocab)])
    return is_content[rows.tokens]


@torch.no_grad()
def head_statistics(model: HookedTransformer | str, rows: Rows | None = None, *, source: str = "synthetic",
                    n_stories: int = 40, batch_size: int = 4, thresholds: Thresholds = Thresholds(),
                    per_story: bool = False, progress: bool = False) -> list[HeadStats]:
    """Statistics and classes of every head of ``model`` over a corpus.

    Rows are packed as in training (earlier stories and their ``[EOS]`` in view) unless
    ``per_story``: then each story is read alone from position 0, as the TinyStories paper reads
    them (``build_rows(..., per_document=True, pad=True)``; padding is not counted). Either way a
    remainder that does not fill a row is kept in a padded row. Given ``rows`` are used as they are.
    """
    model = as_model(model)
    require_positive("batch_size", batch_size)
    require_positive("n_stories", n_stories)
    if rows is None:
        rows = build_rows(source, model.tokenizer, model.cfg.n_ctx, n_stories, per_document=per_story, pad=True)
    role_names = sorted(rows.roles())
    role_masks = np.stack([rows.roles()[r] for r in role_names], axis=1)
    content, entity = content_mask(rows, model.tokenizer), entity_ids(rows)
    accs = [_Acc(model.cfg.n_heads, role_names) for _ in range(model.cfg.n_layers)]
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(rows.tokens), batch_size), disable=not progress, desc="heads"):
        sl = slice(start, start + batch_size)
        # stop before the unembedding: a batch's logits (50k tokens wide for GPT-2's vocabulary) are unused
        _, cache = model.run_with_cache(torch.from_numpy(rows.tokens[sl]).to(device), stop_at_layer=model.cfg.n_layers,
                                        names_filter=lambda n: n.endswith("attn.hook_pattern"))
        for layer, acc in enumerate(accs):
            accumulate(acc, cache[f"blocks.{layer}.attn.hook_pattern"].cpu(), torch.from_numpy(content[sl]),
                       torch.from_numpy(entity[sl]),
                       torch.from_numpy(role_masks[sl]),
                       thresholds.window, torch.from_numpy(rows.in_story[sl]), attention_window(model, layer))
    return [s for layer, acc in enumerate(accs) for s in _finish(acc, layer, thresholds)]


def as_records(stats: list[HeadStats]) -> list[dict]:
    return [asdict(s) for s in stats]

"""Loss by position in a document, and on later mentions by how far back the first mention is.

Why: "does a longer context help, and where?" is answered position by position. A model with a
short context is run over long documents by sliding window (every prediction gets between
``n_ctx - stride`` and ``n_ctx - 1`` tokens of context, as in the usual strided perplexity),
so models of 64, 128 and 512 tokens are compared on the same predictions. Positions are grouped
into buckets (0-63, 64-127, 128-255, 256-511 by default); a prediction belongs to the bucket of
the position it is made *at* (the loss of predicting token ``p + 1`` counts at ``p``).

Later mentions of an entity (the long stories' annotations carry each mention's first mention,
:mod:`simplestories_interp.data.corpus.long_stories`) are grouped by their distance in tokens to that
first mention: a context shorter than the distance cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.config import POSITION_BUCKETS  # noqa: F401 - re-exported
from simplestories_interp.data.rows import Rows, _annotated_tokens
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.training.model import next_token_loss

Buckets = Sequence[tuple[int, int]]
DISTANCE_BUCKETS: tuple[tuple[int, int], ...] = ((1, 64), (64, 128), (128, 256), (256, 512))


def bucket_label(bucket: tuple[int, int]) -> str:
    return f"{bucket[0]}-{bucket[1] - 1}"


def bucket_index(positions: np.ndarray | Tensor, buckets: Buckets) -> np.ndarray:
    """Per position, the index of its bucket ([lo, hi)), or -1 outside every bucket."""
    positions = np.asarray(positions)
    out = np.full(positions.shape, -1, dtype=np.int64)
    for i, (lo, hi) in enumerate(buckets):
        out[(positions >= lo) & (positions < hi)] = i
    return out


def bucket_means(values: Float[Tensor, "rows pos"], buckets: Buckets) -> list[float | None]:
    """Mean of ``values`` over all rows at the positions of each bucket (None for an empty bucket)."""
    which = bucket_index(np.arange(values.shape[1]), buckets)
    out: list[float | None] = []
    for i in range(len(buckets)):
        cols = torch.from_numpy(np.flatnonzero(which == i))
        out.append(float(values[:, cols].double().mean()) if len(cols) else None)
    return out


def _windows(length: int, n_ctx: int, stride: int) -> list[tuple[int, int]]:
    """(window start, first position it scores): each prediction from the first window holding its target."""
    starts = list(range(0, max(length - n_ctx, 0) + 1, stride))
    if starts[-1] + n_ctx < length:
        starts.append(length - n_ctx)
    out, scored = [], 0
    for s in starts:
        out.append((s, scored))
        scored = s + n_ctx - 1
    return out


@torch.no_grad()
def position_losses(model: HookedTransformer, tokens: Int[Tensor, "rows pos"], *, stride: int | None = None,
                    batch_size: int = 8) -> Float[Tensor, "rows pos_minus_1"]:
    """Per-token next-token loss at every position of ``tokens``, by sliding window where the rows are
    longer than the model's context (``stride`` defaults to half of it)."""
    n_ctx, length = model.cfg.n_ctx, tokens.shape[1]
    stride = stride or max(1, n_ctx // 2)
    if not 1 <= stride <= n_ctx - 1:
        raise InvalidArgumentError(f"stride must be between 1 and n_ctx - 1 = {n_ctx - 1}, got {stride}")
    device = next(model.parameters()).device
    out = torch.empty(tokens.shape[0], length - 1)
    for i in range(0, len(tokens), batch_size):
        batch = tokens[i:i + batch_size].to(device)
        for start, scored in _windows(length, n_ctx, stride):
            window = batch[:, start:start + n_ctx]
            loss = next_token_loss(model(window), window, reduction="none").cpu()
            out[i:i + batch_size, scored:start + window.shape[1] - 1] = loss[:, scored - start:]
    return out


def mention_distances(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, position, distance) of every later mention's first token whose first mention is in the
    same row: ``distance`` is in tokens, from the first token of the entity's first mention.

    Needs annotations with ``first`` (long stories) and rows that keep stories whole at their start
    (``build_rows(..., per_document=True)``)."""
    flat_start = rows.start.ravel()
    found: list[tuple[int, int, int]] = []
    for ann, idx in _annotated_tokens(rows):
        first = ann.get("first")
        if first is None or first == ann["start"]:
            continue
        row, pos = divmod(int(idx[0]), rows.n_ctx)
        starts = flat_start[row * rows.n_ctx:(row + 1) * rows.n_ctx]
        hits = np.flatnonzero((starts >= 0) & (starts <= first) & (rows.end[row] > first))
        if hits.size and rows.story[row, hits[0]] == rows.story[row, pos]:
            found.append((row, pos, pos - int(hits[0])))
    if not found:
        return (np.zeros(0, np.int64),) * 3
    return tuple(np.asarray(c, dtype=np.int64) for c in zip(*found, strict=True))


def mention_loss_by_distance(losses: Float[Tensor, "rows pos_minus_1"], rows: Rows,
                             buckets: Buckets = DISTANCE_BUCKETS) -> list[dict]:
    """Mean loss of predicting a later mention's first token, per bucket of distance to the first mention."""
    row, pos, dist = mention_distances(rows)
    keep = pos >= 1  # the token at position p is predicted at p - 1
    row, pos, dist = row[keep], pos[keep], dist[keep]
    values = losses[torch.from_numpy(row), torch.from_numpy(pos - 1)].numpy() if len(row) else np.zeros(0)
    which = bucket_index(dist, buckets)
    return [{"distance": bucket_label(b), "mentions": int((which == i).sum()),
             "loss": float(values[which == i].mean()) if (which == i).any() else None}
            for i, b in enumerate(buckets)]

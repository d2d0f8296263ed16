"""Held-out loss of any loaded model on any story source, as the trainer measures it.

Stories are packed exactly as for training (``[EOS]``-joined rows of n_ctx tokens), and the
loss is next-token cross-entropy over the first n_ctx - 1 positions of each row. This is how
a shipped model's card is checked against fresh synthetic stories.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformer_lens import HookedTransformer

from simplestories_interp.data.packing import pack_rows
from simplestories_interp.data.sources import iter_stories
from simplestories_interp.errors import DataError


@torch.no_grad()
def eval_loss(model: HookedTransformer, source: str = "synthetic:12345", *, n_stories: int = 400,
              batch_size: int = 16, max_rows: int | None = 64) -> float:
    """Mean next-token loss of ``model`` on ``n_stories`` stories of ``source``."""
    rows = pack_rows(iter_stories(source, limit=n_stories), model.tokenizer, model.cfg.n_ctx)
    rows = rows[:max_rows] if max_rows else rows
    if len(rows) == 0:
        raise DataError(f"{n_stories} stories of {source!r} fill no row of n_ctx={model.cfg.n_ctx}")
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        batch = torch.from_numpy(rows[i:i + batch_size]).to(device)
        logits = model(batch[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten(), reduction="sum").item()
        count += batch[:, 1:].numel()
    return total / count

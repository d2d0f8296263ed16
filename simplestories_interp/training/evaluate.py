"""Held-out loss of any loaded model on any story source, as the trainer measures it.

Stories are packed exactly as for training (``[EOS]``-joined rows of n_ctx tokens), and the
loss is next-token cross-entropy over the first n_ctx - 1 positions of each row. This is how
a shipped model's card is checked against fresh synthetic stories.
"""

from __future__ import annotations

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.data.rows import row_array
from simplestories_interp.errors import DataError
from simplestories_interp.training.model import next_token_loss


@torch.no_grad()
def eval_loss(model: HookedTransformer, source: str = "synthetic:12345", *, n_stories: int = 400,
              batch_size: int = 16, max_rows: int | None = 64) -> float:
    """Mean next-token loss of ``model`` on ``n_stories`` stories of ``source``."""
    rows = row_array(source, model.tokenizer, model.cfg.n_ctx, limit=n_stories)
    rows = rows[:max_rows] if max_rows else rows
    if len(rows) == 0:
        raise DataError(f"{n_stories} stories of {source!r} fill no row of n_ctx={model.cfg.n_ctx}")
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        batch = torch.from_numpy(rows[i:i + batch_size]).to(device)
        total += next_token_loss(model(batch[:, :-1]), batch, reduction="sum").item()
        count += batch[:, 1:].numel()
    return total / count

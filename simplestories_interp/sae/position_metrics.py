"""SAE metrics by position bucket, and features that live late in the context.

Why: SAELens's maintainers advise against running an SAE on positions beyond the context it was
trained on, and users asked how much such an SAE misses. :func:`evaluate_by_position` splices an
SAE into the model on full-length rows and reports the metrics of :mod:`.metrics` (same
definitions: explained variance, CE loss score, KL, L0, dead share) separately for each bucket of
positions, so an SAE trained on 64-token windows can be judged at positions 256-511.
It also keeps, per bucket and feature, how often the feature fires and its summed activation:
:func:`late_features` uses them to find features that are nearly silent early in the context.

A token's reconstruction metrics (EV, L0, firing) count at its own position; its spliced-loss
metrics (CE, KL) count at the position the prediction is made from (as in
:mod:`simplestories_interp.analysis.positions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.positions import Buckets, bucket_index, bucket_label
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.sae.config import COUNTERPART_COSINE  # noqa: F401 - re-exported
from simplestories_interp.sae.metrics import ce_loss_score, per_token_losses


@dataclass
class BucketSums:
    """Running sums per bucket (index 0..B-1) over the tokens of the rows seen so far."""

    n: Tensor  # [B] tokens
    n_pred: Tensor  # [B] predictions (positions 0 .. pos-2)
    sq_err: Tensor  # [B] sum ||x - x_hat||^2
    sum_x: Tensor  # [B, d_in]
    sum_sq: Tensor  # [B] sum ||x||^2
    l0: Tensor  # [B] sum of active features
    ce: Tensor  # [B, 3] clean, sae, zero
    kl: Tensor  # [B, 2] sae, zero
    fires: Tensor  # [B, d_sae] firing counts
    mass: Tensor  # [B, d_sae] summed activations

    @classmethod
    def zeros(cls, n_buckets: int, d_in: int, d_sae: int) -> BucketSums:
        z = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
        return cls(z(n_buckets), z(n_buckets), z(n_buckets), z(n_buckets, d_in), z(n_buckets), z(n_buckets),
                   z(n_buckets, 3), z(n_buckets, 2), z(n_buckets, d_sae), z(n_buckets, d_sae))


def _add(sums: BucketSums, which: np.ndarray, x: Tensor, x_hat: Tensor, feats: Tensor) -> None:
    """Add the reconstruction sums of tokens ``x`` [n, d] whose buckets are ``which`` [n]."""
    for b in range(len(sums.n)):
        sel = torch.from_numpy(np.flatnonzero(which == b))
        if not len(sel):
            continue
        xb, f = x[sel].double(), feats[sel].double()
        sums.n[b] += len(sel)
        sums.sq_err[b] += (xb - x_hat[sel].double()).pow(2).sum()
        sums.sum_x[b] += xb.sum(0)
        sums.sum_sq[b] += xb.pow(2).sum()
        sums.l0[b] += (f != 0).sum()
        sums.fires[b] += (f != 0).sum(0)
        sums.mass[b] += f.sum(0)


def _add_losses(sums: BucketSums, which: np.ndarray, ce: Tensor, kl: Tensor) -> None:
    """``ce`` [rows, pos-1, 3] and ``kl`` [rows, pos-1, 2] per prediction; ``which`` [pos-1]."""
    for b in range(len(sums.n)):
        cols = torch.from_numpy(np.flatnonzero(which == b))
        if len(cols):
            sums.n_pred[b] += ce.shape[0] * len(cols)
            sums.ce[b] += ce[:, cols].double().sum((0, 1))
            sums.kl[b] += kl[:, cols].double().sum((0, 1))


@torch.no_grad()
def bucket_sums(model: HookedTransformer, sae, hook: str, tokens: Int[Tensor, "rows pos"], buckets: Buckets,
                batch_size: int = 8) -> BucketSums:
    """Stream ``tokens`` (rows no longer than the model's context) through model and SAE; sums per bucket."""
    device = next(model.parameters()).device
    which_tok = bucket_index(np.arange(tokens.shape[1]), buckets)
    sums = None
    for i in range(0, len(tokens), batch_size):
        batch = tokens[i:i + batch_size].to(device)
        keep: dict = {}
        ce, kl = per_token_losses(model, sae, hook, batch, keep)
        x = keep["x"].float()
        feats = sae.encode(x)
        x_hat = sae.decode(feats)
        if sums is None:
            sums = BucketSums.zeros(len(buckets), x.shape[-1], feats.shape[-1])
        flat = lambda t: t.reshape(-1, t.shape[-1]).cpu()  # noqa: E731
        _add(sums, np.tile(which_tok, len(batch)), flat(x), flat(x_hat), flat(feats))
        _add_losses(sums, which_tok[:-1], ce.cpu(), kl.cpu())
    return sums


def bucket_metrics(sums: BucketSums, buckets: Buckets) -> list[dict]:
    """The metrics of each bucket from its sums (None where a bucket holds no token)."""
    out = []
    for b, bucket in enumerate(buckets):
        n, m = float(sums.n[b]), float(sums.n_pred[b])
        if n == 0:
            out.append({"positions": bucket_label(bucket), "tokens": 0})
            continue
        total = float(sums.sum_sq[b]) / n - float(sums.sum_x[b].pow(2).sum()) / n ** 2
        ce = (sums.ce[b] / max(m, 1)).tolist()
        kl = (sums.kl[b] / max(m, 1)).tolist()
        out.append({
            "positions": bucket_label(bucket), "tokens": int(n),
            "explained_variance": 1 - float(sums.sq_err[b]) / n / max(total, 1e-12),
            "l0": float(sums.l0[b]) / n,
            "dead_fraction": float((sums.fires[b] == 0).double().mean()),
            "ce_clean": ce[0], "ce_sae": ce[1], "ce_zero": ce[2],
            "ce_loss_score": ce_loss_score(*ce) if m else None,
            "kl_sae": kl[0], "kl_zero": kl[1],
        })
    return out


def evaluate_by_position(model: HookedTransformer, sae, hook: str, tokens: Int[Tensor, "rows pos"],
                         buckets: Buckets, batch_size: int = 8) -> tuple[list[dict], BucketSums]:
    """Per bucket of positions: explained variance, L0, dead share, CE loss score and KL of ``sae``."""
    sums = bucket_sums(model, sae, hook, tokens, buckets, batch_size)
    return bucket_metrics(sums, buckets), sums


def late_features(sums: BucketSums, buckets: Buckets, *, boundary: int = 128, min_share: float = 0.9,
                  min_fires: int = 20) -> list[dict]:
    """Features whose activation mass per token lies mostly at positions >= ``boundary``.

    ``late_share`` = mass per late token / (mass per early token + mass per late token): 0.5 for
    a feature indifferent to position, 1.0 for one that never fires before ``boundary``. Kept:
    share >= ``min_share`` and at least ``min_fires`` late firings (else too rare to judge).
    ``boundary`` must be a bucket edge."""
    late = np.array([lo >= boundary for lo, _ in buckets])
    if boundary not in {lo for lo, _ in buckets}:
        raise InvalidArgumentError(f"boundary {boundary} is not where a bucket starts in {list(buckets)}; "
                                   "pick one of those starts")
    n = sums.n.numpy()
    per_tok = lambda sel: sums.mass[torch.from_numpy(sel)].sum(0) / max(n[sel].sum(), 1)  # noqa: E731
    early_m, late_m = per_tok(~late), per_tok(late)
    share = late_m / (early_m + late_m).clamp(min=1e-12)
    late_fires = sums.fires[torch.from_numpy(late)].sum(0)
    early_density = sums.fires[torch.from_numpy(~late)].sum(0) / max(n[~late].sum(), 1)
    late_density = late_fires / max(n[late].sum(), 1)
    keep = torch.nonzero((share >= min_share) & (late_fires >= min_fires)).flatten()
    return [{"feature": int(f), "late_share": float(share[f]), "late_fires": int(late_fires[f]),
             "early_density": float(early_density[f]), "late_density": float(late_density[f])}
            for f in keep[torch.argsort(-share[keep])]]


def max_decoder_cosine(w_dec: Float[Tensor, "d_sae d_in"], other: Float[Tensor, "d_other d_in"]) -> Tensor:
    """Per feature of ``w_dec``, the largest cosine between its decoder direction and any of ``other``'s."""
    a = torch.nn.functional.normalize(w_dec.float(), dim=-1)
    b = torch.nn.functional.normalize(other.float(), dim=-1)
    return (a @ b.T).max(-1).values

"""The metrics researchers judge SAEs by, computed by us (SAELens only logs them to wandb).

Definitions (as SAELens uses them, ``shared/reference/methods.md``):

* **L0**: mean number of non-zero features per token;
* **explained variance**: 1 - mean ||x - x_hat||^2 / mean ||x - mean(x)||^2 (per batch);
* **MSE**: mean squared reconstruction error per element;
* **dead features**: features that did not fire on any of the held-out tokens of the density
  sample (hundreds of thousands of tokens by default: a feature firing once in 10^5 tokens is
  rare, not dead, and a small sample cannot tell the two apart); during training, SAELens's
  window: none in the last ``dead_feature_window`` steps;
* **dense features**: features firing on more than 10% of those tokens;
* **CE loss score**: (CE with the hook zero-ablated - CE with the SAE spliced in) /
  (CE zero-ablated - clean CE): 1 for a perfect reconstruction, 0 for an SAE that outputs zero;
* **KL**: mean per-token KL(clean || spliced) of the next-token distributions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import run_hooks, stop_layer
from simplestories_interp.training.model import next_token_loss

DENSE_FREQUENCY = 0.1


@dataclass
class SAEMetrics:
    l0: float
    explained_variance: float
    mse: float
    dead_fraction: float
    dense_fraction: float
    ce_clean: float
    ce_sae: float
    ce_zero: float
    ce_loss_score: float
    kl_sae: float
    kl_zero: float
    tokens: int
    density_tokens: int

    def as_dict(self) -> dict:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def problems(self, k: int | None = None) -> list[str]:
        """What makes this SAE unusable, in words (empty when nothing does): a negative explained
        variance (worse than predicting the mean), or, for a TopK/BatchTopK SAE of ``k``, an L0 above 2k."""
        found = []
        if self.explained_variance < 0:
            found.append(f"explained variance {self.explained_variance:.2f} < 0: the SAE reconstructs worse than the "
                         "mean activation; train on more --tokens or with a larger --lr")
        if k is not None and self.l0 > 2 * k:
            found.append(f"L0 {self.l0:.0f} is above 2k = {2 * k}: the saved SAE fires far more often than the one "
                         "trained; retrain it with this version, which saves the threshold it trained with")
        return found


def explained_variance(x: Float[Tensor, "n d"], x_hat: Float[Tensor, "n d"]) -> float:
    residual = (x - x_hat).pow(2).sum(-1).mean()
    total = (x - x.mean(0)).pow(2).sum(-1).mean()
    return float(1 - residual / total.clamp(min=1e-12))


def reconstruction(sae, x: Float[Tensor, "n d"]) -> dict:
    """L0, explained variance, MSE and per-feature firing counts of ``sae`` on ``x``."""
    with torch.no_grad():
        feats = sae.encode(x)
        x_hat = sae.decode(feats)
    fired = feats != 0
    return {"l0": float(fired.sum(-1).float().mean()), "explained_variance": explained_variance(x, x_hat),
            "mse": float((x - x_hat).pow(2).mean()), "fires": fired.sum(0)}


def _ce_and_logp(logits: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Per-token next-token loss, and the log-probabilities the KL divergences need."""
    return next_token_loss(logits, tokens, reduction="none"), F.log_softmax(logits[:, :-1].float(), -1)


@torch.no_grad()
def per_token_losses(model: HookedTransformer, sae, hook: str, tokens: Tensor,
                     keep: dict | None = None) -> tuple[Tensor, Tensor]:
    """Per prediction: CE of the clean, SAE-spliced and zero-ablated model ``[rows, pos - 1, 3]`` and
    KL(clean || spliced), KL(clean || zero) ``[rows, pos - 1, 2]``. ``keep["x"]``, if given, receives
    the clean activations at ``hook`` (no extra forward pass)."""
    def store(act, hook):  # noqa: ARG001 - TransformerLens passes the hook point
        keep["x"] = act

    def splice(act, hook):  # noqa: ARG001
        return sae.decode(sae.encode(act.reshape(-1, act.shape[-1]))).reshape(act.shape).to(act.dtype)

    def zero(act, hook):  # noqa: ARG001
        return torch.zeros_like(act)

    clean = model.run_with_hooks(tokens, fwd_hooks=[(hook, store)]) if keep is not None else model(tokens)
    ce_clean, logp_clean = _ce_and_logp(clean, tokens)
    ces, kls = [ce_clean], []
    for fn in (splice, zero):
        ce, logp = _ce_and_logp(model.run_with_hooks(tokens, fwd_hooks=[(hook, fn)]), tokens)
        ces.append(ce)
        kls.append((logp_clean.exp() * (logp_clean - logp)).sum(-1))
    return torch.stack(ces, -1), torch.stack(kls, -1)


def spliced_losses(model: HookedTransformer, sae, hook: str, tokens: Tensor) -> dict[str, float]:
    """Clean, SAE-spliced and zero-ablated CE losses and KLs on a batch of rows (means)."""
    ce, kl = per_token_losses(model, sae, hook, tokens)
    ce, kl = ce.flatten(0, 1).mean(0).tolist(), kl.flatten(0, 1).mean(0).tolist()
    return {"ce_clean": ce[0], "ce_sae": ce[1], "ce_zero": ce[2], "kl_sae": kl[0], "kl_zero": kl[1]}


def ce_loss_score(ce_clean: float, ce_sae: float, ce_zero: float) -> float:
    denom = ce_zero - ce_clean
    return float((ce_zero - ce_sae) / denom) if abs(denom) > 1e-12 else float("nan")


@torch.no_grad()
def firing_counts(model: HookedTransformer, sae, hook: str, rows: np.ndarray,
                  batch_size: int = 16) -> tuple[Tensor, int]:
    """How many of the hook's activation vectors over ``rows`` each feature fires on; the vector count."""
    device = next(model.parameters()).device
    stop = stop_layer(model, [hook])
    fires, n = 0, 0
    for i in tqdm(range(0, len(rows), batch_size), desc="SAE density sample", unit=" batches", leave=False):
        x = run_hooks(model, torch.from_numpy(rows[i:i + batch_size]).to(device), [hook], stop)[hook].float()
        fires = fires + (sae.encode(x) != 0).sum(0)
        n += len(x)
    return fires, n


@torch.no_grad()
def evaluate_sae(model: HookedTransformer, sae, hook: str, rows: np.ndarray, batch_size: int = 8,
                 density_rows: np.ndarray | None = None) -> SAEMetrics:
    """All metrics of ``sae`` spliced into ``model`` at ``hook`` on held-out ``rows``.

    Dead and dense fractions are counted over ``density_rows`` when given (a larger sample).
    """
    device = next(model.parameters()).device
    stop = stop_layer(model, [hook])
    sums: dict[str, float] = {}
    fires, n_tokens, xs, x_hats = None, 0, [], []
    for i in tqdm(range(0, len(rows), batch_size), desc="evaluating SAE", unit=" batches", leave=False):
        tokens = torch.from_numpy(rows[i:i + batch_size]).to(device)
        x = run_hooks(model, tokens, [hook], stop)[hook].float()
        rec = reconstruction(sae, x)
        fires = rec["fires"] if fires is None else fires + rec["fires"]
        xs.append(x)
        x_hats.append(sae.decode(sae.encode(x)))
        for key, value in {**spliced_losses(model, sae, hook, tokens), "l0": rec["l0"]}.items():
            sums[key] = sums.get(key, 0.0) + value * len(x)
        n_tokens += len(x)
    mean = {k: v / n_tokens for k, v in sums.items()}
    x, x_hat = torch.cat(xs), torch.cat(x_hats)
    n_density = n_tokens
    if density_rows is not None:
        fires, n_density = firing_counts(model, sae, hook, density_rows)
    freq = fires.float() / n_density
    return SAEMetrics(
        l0=mean["l0"], explained_variance=explained_variance(x, x_hat), mse=float((x - x_hat).pow(2).mean()),
        dead_fraction=float((fires == 0).float().mean()), dense_fraction=float((freq > DENSE_FREQUENCY).float().mean()),
        ce_clean=mean["ce_clean"], ce_sae=mean["ce_sae"], ce_zero=mean["ce_zero"],
        ce_loss_score=ce_loss_score(mean["ce_clean"], mean["ce_sae"], mean["ce_zero"]),
        kl_sae=mean["kl_sae"], kl_zero=mean["kl_zero"], tokens=n_tokens, density_tokens=n_density,
    )

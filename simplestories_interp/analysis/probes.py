"""Linear probes: how much of a label can a linear read-out of each layer's residual stream recover?

Two kinds of label, both from the synthetic corpus's annotations:

* **story labels** (``theme``, ``topic``, ``style``, ``feature``): one example per story, the
  residual stream averaged over the story's tokens; a multinomial logistic regression; scored by
  held-out accuracy against the majority class of the training stories.
* **word roles** (name, object noun, verb, ...): one example per token, one binary logistic
  read-out per role; scored by held-out F1 against the role's base rate.

Stories are split into training and held-out sets (never tokens of one story on both sides).
Features are standardised with the training statistics, so a model whose residual stream has a
different scale (a norm-free twin) is probed on equal terms; the L2 penalty is fixed.

Layers are read at ``blocks.{L}.hook_resid_pre`` for every L (L = 0 is the embedding) and at the
last block's ``hook_resid_post``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import run_hooks
from simplestories_interp.data.rows import Rows
from simplestories_interp.errors import ConfigError

STORY_LABELS = ("theme", "topic", "style", "feature")
L2 = 1e-3  # weight penalty of every probe (on standardised features)


def residual_hooks(model: HookedTransformer) -> list[str]:
    """The residual stream before every block and after the last."""
    n = model.cfg.n_layers
    return [f"blocks.{layer}.hook_resid_pre" for layer in range(n)] + [f"blocks.{n - 1}.hook_resid_post"]


@torch.no_grad()
def residuals(model: HookedTransformer, rows: Rows, batch_size: int = 8) -> dict[str, Float[Tensor, "tokens d_model"]]:
    """Every token's residual stream at each of :func:`residual_hooks`, rows flattened."""
    hooks, device = residual_hooks(model), next(model.parameters()).device
    out: dict[str, list[Tensor]] = {h: [] for h in hooks}
    for i in range(0, len(rows.tokens), batch_size):
        acts = run_hooks(model, torch.from_numpy(rows.tokens[i : i + batch_size]).to(device), hooks, None)
        for h in hooks:
            out[h].append(acts[h].float().cpu())
    return {h: torch.cat(v) for h, v in out.items()}


def split_stories(n_stories: int, held_out: float = 0.3, seed: int = 0) -> np.ndarray:
    """A boolean mask over stories: True for held-out ones."""
    order = np.random.default_rng(seed).permutation(n_stories)
    mask = np.zeros(n_stories, dtype=bool)
    mask[order[: max(1, round(held_out * n_stories))]] = True
    return mask


def fit_linear(x: Float[Tensor, "n d"], y: Tensor, *, multilabel: bool, steps: int = 100) -> torch.nn.Linear:
    """Logistic regression by L-BFGS: softmax over classes (``y`` ints) or one sigmoid per column (``y`` 0/1)."""
    n_out = y.shape[1] if multilabel else int(y.max()) + 1
    probe = torch.nn.Linear(x.shape[1], n_out)
    opt = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits if multilabel else torch.nn.functional.cross_entropy

    def closure():
        opt.zero_grad()
        loss = loss_fn(probe(x), y.float() if multilabel else y) + L2 * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return probe


def _standardise(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)
    return (train - mean) / std, (test - mean) / std


@dataclass
class LabelProbe:
    """A story-label probe at one hook."""

    label: str
    hook: str
    accuracy: float
    """Held-out accuracy."""
    majority: float
    """Held-out accuracy of always predicting the training stories' most common value."""
    classes: int


def story_means(acts: Float[Tensor, "tokens d"], story: Int[np.ndarray, " tokens"], n: int) -> Tensor:
    """Mean activation per story (tokens of story s averaged; stories without tokens stay 0)."""
    idx = torch.from_numpy(story.astype(np.int64))
    sums = torch.zeros(n, acts.shape[1]).index_add_(0, idx, acts)
    counts = torch.bincount(idx, minlength=n).clamp(min=1)
    return sums / counts[:, None]


def probe_story_label(acts: Tensor, rows: Rows, label: str, held_out: np.ndarray, hook: str = "") -> LabelProbe:
    """Probe one story label from story-mean activations (``held_out``: mask over ``rows.stories``)."""
    if not rows.has_labels:
        raise ConfigError("story-label probes need labelled stories (the synthetic corpus); this text has none")
    values = [r.get(label) for r in rows.records]
    names = sorted({v for v in values if v is not None})
    y = torch.tensor([names.index(v) for v in values])
    x = story_means(acts.float(), rows.story.ravel(), len(rows.stories))
    present = torch.from_numpy(np.isin(np.arange(len(rows.stories)), rows.story))
    test = torch.from_numpy(held_out) & present
    train = ~torch.from_numpy(held_out) & present
    x_train, x_test = _standardise(x[train], x[test])
    probe = fit_linear(x_train, y[train], multilabel=False)
    accuracy = float((probe(x_test).argmax(1) == y[test]).float().mean())
    majority = float((y[test] == torch.bincount(y[train]).argmax()).float().mean())
    return LabelProbe(label, hook, round(accuracy, 4), round(majority, 4), len(names))


def probe_roles(acts: Tensor, rows: Rows, roles: list[str], held_out: np.ndarray) -> dict[str, dict]:
    """Per role: held-out F1, precision, recall and the base rate of a per-token binary probe."""
    masks = rows.roles()
    missing = [r for r in roles if r not in masks]
    if missing:
        raise ConfigError(f"no tokens with role(s) {missing} in this text; roles present: {sorted(masks)}")
    y = torch.from_numpy(np.stack([masks[r].ravel() for r in roles], 1).astype(np.float32))
    test = torch.from_numpy(held_out[rows.story.ravel()])
    x_train, x_test = _standardise(acts[~test].float(), acts[test].float())
    probe = fit_linear(x_train, y[~test], multilabel=True)
    predicted, truth = probe(x_test) > 0, y[test] > 0
    out = {}
    for i, role in enumerate(roles):
        tp = float((predicted[:, i] & truth[:, i]).sum())
        precision = tp / max(float(predicted[:, i].sum()), 1.0)
        recall = tp / max(float(truth[:, i].sum()), 1.0)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        out[role] = {
            "f1": round(f1, 4),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "base_rate": round(float(truth[:, i].float().mean()), 4),
        }
    return out

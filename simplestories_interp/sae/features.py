"""SAE feature views and their ground truth on the synthetic corpus.

Features are viewed like neurons (:mod:`simplestories_interp.analysis.neurons`,
:mod:`simplestories_interp.render.views`): top-activating contexts,
quantile samples, the activation histogram, and the logit effect of each feature's decoder
direction. On the annotated corpus each feature is matched to the role that best predicts
its firing: for the tokens where the feature is active and the tokens carrying a role,
precision = |active and role| / |active|, recall = |active and role| / |role|, and F1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.cards import neuron_text, unit_card
from simplestories_interp.analysis.hooks import run_hooks, stop_layer
from simplestories_interp.analysis.neurons import TopK, count_roles, direction_logit_effect, scan
from simplestories_interp.data.rows import Rows, build_rows
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.sae.training import PROVENANCE, load_sae
from simplestories_interp.zoo.loading import load_model

_SKIP = {"dialogue"}


@dataclass
class FeatureMatch:
    feature: int
    role: str | None
    precision: float
    recall: float
    f1: float
    frequency: float
    """Share of tokens on which the feature is active."""


@torch.no_grad()
def feature_activations(model: HookedTransformer, sae, hook: str, rows: Rows, batch_size: int = 8) -> torch.Tensor:
    """[tokens, d_sae] feature activations over ``rows`` (for corpora of thousands of tokens)."""
    device, stop, out = next(model.parameters()).device, stop_layer(model, [hook]), []
    for i in range(0, len(rows.tokens), batch_size):
        acts = run_hooks(model, torch.from_numpy(rows.tokens[i:i + batch_size]).to(device), [hook], stop)[hook]
        out.append(sae.encode(acts.float()).cpu())
    return torch.cat(out)


def match_roles(features: torch.Tensor, rows: Rows) -> list[FeatureMatch]:
    """Per feature, the role with the best F1 between 'feature active' and 'token has role'."""
    inside = torch.from_numpy(rows.in_story.ravel()).float()[:, None]
    active = (features > 0).float() * inside  # [tokens, d_sae]; padding is never active
    roles = {r: m.ravel() for r, m in rows.roles().items() if r not in _SKIP}
    names = list(roles)
    role_mat = torch.from_numpy(np.stack([roles[r] for r in names], 1).astype(np.float32))  # [tokens, R]
    both = active.T @ role_mat  # [d_sae, R]
    n_active = active.sum(0)[:, None]
    n_role = role_mat.sum(0)[None, :]
    precision = both / n_active.clamp(min=1)
    recall = both / n_role.clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    best = f1.argmax(1)
    freq = active.sum(0) / inside.sum().clamp(min=1)
    out = []
    for f in range(features.shape[1]):
        r = int(best[f])
        has = n_active[f, 0] > 0
        out.append(FeatureMatch(f, names[r] if has else None, float(precision[f, r]) if has else 0.0,
                                float(recall[f, r]) if has else 0.0, float(f1[f, r]) if has else 0.0, float(freq[f])))
    return out


def match_summary(matches: list[FeatureMatch], threshold: float = 0.8) -> dict:
    alive = [m for m in matches if m.frequency > 0]
    strong = [m for m in alive if m.f1 >= threshold]
    return {"features": len(matches), "alive": len(alive), "f1_threshold": threshold,
            "matched": len(strong), "by_role": count_roles(m.role for m in strong)}


def feature_topk(model: HookedTransformer, sae, hook: str, rows: Rows, k: int = 20, progress: bool = False) -> TopK:
    """Top-activating tokens per feature (a neuron scan through the SAE encoder)."""
    return scan(model, hook, rows=rows, k=k, transform=lambda a: sae.encode(a.float()), progress=progress)


def feature_logit_effect(model: HookedTransformer, sae, feature: int, n: int = 8) -> tuple[list, list]:
    """Direct logit effect of a feature's decoder direction."""
    return direction_logit_effect(model, sae.W_dec[feature].detach(), n)


def as_records(matches: list[FeatureMatch]) -> list[dict]:
    return [asdict(m) for m in matches]


@dataclass
class FeatureScan:
    """An SAE's features over a corpus: the text summary and the chosen features' cards."""

    text: str
    title: str
    cards: list[dict]


def feature_scan(path, *, model=None, features: list[int] | None = None, data: str = "synthetic:2023",
                 n_stories: int = 60, device=None) -> FeatureScan:
    """Scan an SAE's features over a corpus: role matches, the chosen features' top contexts as text and
    as cards (``render.views.cards_page`` draws them)."""
    sae = load_sae(path, device=device)
    outside = [f for f in features or [] if not 0 <= f < sae.cfg.d_sae]
    if outside:  # before the scan, not after it
        raise InvalidArgumentError(f"feature(s) {outside} out of range: the SAE has features 0..{sae.cfg.d_sae - 1}")
    provenance = json.loads((Path(path) / PROVENANCE).read_text()) if (Path(path) / PROVENANCE).is_file() else {}
    hook = sae.cfg.metadata.hook_name or provenance.get("hook")
    lm = model if isinstance(model, HookedTransformer) else load_model(
        model or provenance.get("model") or sae.cfg.metadata.model_name, device=device)
    rows = build_rows(data, lm.tokenizer, lm.cfg.n_ctx, n_stories, pad=True)  # a short file is read whole
    matches = match_roles(feature_activations(lm, sae, hook, rows), rows)
    chosen = features or [m.feature for m in sorted(matches, key=lambda m: -m.f1)[:8]]
    top = feature_topk(lm, sae, hook, rows)
    lines = [f"{path}: {hook}, d_sae {sae.cfg.d_sae}; {rows.describe()}; role matches {match_summary(matches)}"]
    for f in chosen:
        m = matches[f]
        lines.append(f"feature {f}: {m.role} (precision {m.precision:.2f}, recall {m.recall:.2f}, F1 {m.f1:.2f}, "
                     f"frequency {m.frequency:.3f})")
        lines.append(neuron_text(top, f, n_top=5))
    cards = [unit_card(top, f, model=lm, logits=feature_logit_effect(lm, sae, f), title=f"feature {f}",
                       note=f" · best role {matches[f].role}: precision {matches[f].precision:.2f}, recall "
                            f"{matches[f].recall:.2f}, F1 {matches[f].f1:.2f}") for f in chosen]
    return FeatureScan("\n".join(lines), f"SAE features of {path}", cards)


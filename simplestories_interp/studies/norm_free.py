"""The norm-free study (``ssi reproduce norm-free``): does removing normalisation make interpretability easier?

The suite's users asked for models without normalisation because they "could make interp easier".
This study measures it on one base: a normalised model against its twin whose RMSNorm layers were
removed by fine-tuning (``ssi noln``), every measure on the same held-out annotated tokens.

1. **Direct logit attribution**: per component (embedding, each layer's attention and MLP output),
   the error of the usual frozen-scale attribution against the component's actual direct effect
   (:func:`~simplestories_interp.analysis.attribution.frozen_scale_errors`); zero on the twin.
2. **SAEs at equal settings** (same hook, BatchTopK k, expansion, tokens, seed): explained
   variance, CE loss score, dead share, and how well features match the annotated roles (best F1
   and precision per feature, share of features above ``f1_threshold``).
3. **Neurons**: role precision per layer in the neuron basis and in a random orthogonal basis
   (:mod:`~simplestories_interp.analysis.basis_control`, the neuron figure's method).
4. **Heads** of the 1-layer pair: classes and statistics (:mod:`~simplestories_interp.analysis.heads`).
5. **Linear probes** per layer for the story labels and the word roles (:mod:`~simplestories_interp.analysis.probes`).

Output: ``index.html`` (plotly inlined: works offline), ``summary.txt``, ``results.json`` and the
SAEs under ``saes/`` (reused when the command runs again into the same folder; interrupted ones resume).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from simplestories_interp.analysis.attribution import frozen_scale_errors
from simplestories_interp.analysis.basis_control import compare_bases
from simplestories_interp.analysis.heads import as_records, head_statistics
from simplestories_interp.analysis.hooks import parse_hooks
from simplestories_interp.analysis.probes import (
    STORY_LABELS,
    probe_roles,
    probe_story_label,
    residuals,
    split_stories,
)
from simplestories_interp.data.rows import Rows, build_rows
from simplestories_interp.data.sources import Source, iter_stories
from simplestories_interp.errors import ConfigError
from simplestories_interp.sae.features import feature_activations, match_roles
from simplestories_interp.sae.training import load_sae, train_sae
from simplestories_interp.studies.config import NormFreeConfig
from simplestories_interp.studies.norm_free_pages import index_page, summary_text
from simplestories_interp.studies.study import Study, config_record, run_study, with_settings
from simplestories_interp.training.evaluate import eval_loss
from simplestories_interp.zoo.loading import load_model, require_loadable
from simplestories_interp.zoo.registry import norm_free_name

ATTRIBUTION_ROWS = 24  # rows of n_ctx tokens for the attribution errors (the effects are per token)


def norm_free_study(cfg: NormFreeConfig | None = None, **settings) -> Path:
    """Run the study as configured (``settings`` override ``cfg``'s fields); return the output folder."""
    return run_study(STUDY, with_settings(cfg, NormFreeConfig, settings))


def _check(cfg: NormFreeConfig) -> None:
    if not Source.parse(cfg.data).synthetic:
        raise ConfigError(
            f"--data {cfg.data!r}: the roles and story labels come from the synthetic corpus's "
            "annotations; use synthetic[:SEED]"
        )
    next(iter_stories(cfg.sae.data, limit=1), None)  # a bad SAE source fails now, not after the models load
    heads = [] if cfg.head_model.lower() == "none" else [_name(cfg.head_model, k) for k in ("rms", "none")]
    require_loadable(cfg.model, norm_free_name(cfg.model), *heads)


def _measure(cfg: NormFreeConfig, out: Path, device) -> dict:
    pair = {"rms": load_model(cfg.model, device=device), "none": load_model(norm_free_name(cfg.model), device=device)}
    parse_hooks(pair["rms"], [cfg.sae.hook])
    rows = build_rows(cfg.data, pair["rms"].tokenizer, pair["rms"].cfg.n_ctx, cfg.stories)
    return {
        "config": config_record(cfg),
        "models": {k: _name(cfg.model, k) for k in pair},
        "tokens": int(rows.tokens.size),
        "loss": {k: round(eval_loss(m, cfg.data, n_stories=cfg.stories, max_rows=None), 4) for k, m in pair.items()},
        "attribution": {k: _attribution(m, rows) for k, m in pair.items()},
        "saes": {k: _sae(cfg, k, m, rows, out) for k, m in pair.items()},
        "neurons": {k: _neurons(cfg, m, rows) for k, m in pair.items()},
        "probes": _probes(cfg, pair, rows),
        "heads": _heads(cfg, device),
    }


def _name(model: str, kind: str) -> str:
    return norm_free_name(model) if kind == "none" else model


def _attribution(model, rows: Rows) -> dict[str, dict]:
    """Frozen-scale attribution errors of the first rows, per batch of 4 rows, averaged over the batches."""
    tokens = torch.from_numpy(rows.tokens[:ATTRIBUTION_ROWS]).to(next(model.parameters()).device)
    batches = [frozen_scale_errors(model, tokens[i : i + 4]) for i in range(0, len(tokens), 4)]
    return {
        name: {key: round(float(np.mean([b[name][key] for b in batches])), 7) for key in batches[0][name]}
        for name in batches[0]
    }


def _sae(cfg: NormFreeConfig, kind: str, model, rows: Rows, out: Path) -> dict:
    """Train (or reuse) the SAE of one model at the shared settings; its metrics and role matches."""
    folder = out / "saes" / kind
    if not (folder / "metrics.json").is_file():
        train_sae(
            replace(cfg.sae, model=_name(cfg.model, kind), eval_data=cfg.data, seed=cfg.seed, device=cfg.device,
                    out=str(folder), resume=(folder / "checkpoints").is_dir()),
            model,
        )
    sae = load_sae(folder, device=str(next(model.parameters()).device))
    metrics = json.loads((folder / "metrics.json").read_text())
    matches = [m for m in match_roles(feature_activations(model, sae, cfg.sae.hook, rows), rows) if m.frequency > 0]
    keep = ("explained_variance", "ce_loss_score", "dead_fraction", "l0", "kl_sae")
    return {
        **{k: metrics[k] for k in keep},
        "alive": len(matches),
        "d_sae": int(sae.W_dec.shape[0]),
        "mean_f1": round(float(np.mean([m.f1 for m in matches])), 4) if matches else None,
        "mean_precision": round(float(np.mean([m.precision for m in matches])), 4) if matches else None,
        "share_f1_above": round(float(np.mean([m.f1 >= cfg.f1_threshold for m in matches])), 4) if matches else None,
    }


def _neurons(cfg: NormFreeConfig, model, rows: Rows) -> list[dict]:
    """Per layer: neuron vs random-basis role precision (token-identity and semantic roles apart)."""
    scan_rows = rows.first_rows(int(np.searchsorted(rows.story[:, 0], cfg.neuron_stories)) or 1)
    return [
        compare_bases(model, layer, scan_rows, seed=cfg.seed).as_dict(distributions=False)
        for layer in tqdm(range(model.cfg.n_layers), desc="neurons by layer")
    ]


def _probes(cfg: NormFreeConfig, pair: dict, rows: Rows) -> dict:
    """Per model and hook: held-out accuracy of each story label and F1 of each word role."""
    held_out = split_stories(len(rows.stories), seed=cfg.seed)
    roles = sorted(r for r in rows.roles() if r != "eos")
    out = {}
    for kind, model in pair.items():
        acts = residuals(model, rows)
        out[kind] = {
            hook: {
                "labels": {
                    label: dataclasses.asdict(probe_story_label(x, rows, label, held_out, hook))
                    for label in STORY_LABELS
                },
                "roles": probe_roles(x, rows, roles, held_out),
            }
            for hook, x in tqdm(acts.items(), desc=f"probes ({kind})")
        }
    out["semantic_roles"] = rows.semantic_roles()
    return out


def _heads(cfg: NormFreeConfig, device) -> dict | None:
    """Head classes and statistics of the 1-layer pair (None when skipped)."""
    if cfg.head_model.lower() == "none":
        return None
    out = {}
    for kind in ("rms", "none"):
        model = load_model(_name(cfg.head_model, kind), device=device)
        rows = build_rows(cfg.data, model.tokenizer, model.cfg.n_ctx, cfg.head_stories)
        out[kind] = as_records(head_statistics(model, rows))
    return out


STUDY = Study("norm-free", check=_check, measure=_measure, summary=summary_text, index=index_page)

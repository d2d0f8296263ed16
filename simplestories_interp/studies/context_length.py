"""The context-length study (``ssi reproduce context-length``): what do short contexts miss?

Users of the suite asked two questions: *what features are unique to longer prompts?* and *how
much do I miss by training SAEs on activations of a shorter context than the model's?* This
study answers both on long stories (:mod:`simplestories_interp.data.corpus.long_stories`), which fill a
512-token context and plant references that only a long context resolves:

1. **Loss by position**: the full-context model and shorter-context models (run by sliding
   window) on the same held-out long stories, per position and per bucket of positions, and on
   later mentions of an entity by the distance to its first mention.
2. **What short-context SAEs miss** (Q2): on the full-context model, SAEs trained on activations
   of windows of 64, 128 and 512 tokens (same hook, k and token budget), each evaluated on full
   rows by position bucket (:mod:`simplestories_interp.sae.position_metrics`); the converse (the
   longest-window SAE at early positions) is the first bucket of its row.
3. **Features unique to longer prompts** (Q1): the longest-window SAE's features whose activation
   mass per token lies mostly beyond ``boundary``, with their top contexts (``late_features.html``),
   the annotated role they match best, and whether the shorter-window SAEs have a counterpart
   (decoder cosine >= ``counterpart_cosine``).

Output: ``index.html`` (plotly charts, JavaScript inlined: works offline), ``late_features.html``,
``summary.txt``, ``results.json`` (every number) and the SAEs under ``saes/``. Finished SAEs are
reused when the command runs again into the same folder; interrupted ones resume.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from simplestories_interp.analysis.hooks import parse_hooks
from simplestories_interp.analysis.positions import (
    POSITION_BUCKETS,
    bucket_label,
    bucket_means,
    mention_loss_by_distance,
    position_losses,
)
from simplestories_interp.data.corpus.diversity import token_lengths
from simplestories_interp.data.rows import Rows, build_rows
from simplestories_interp.data.sources import iter_stories
from simplestories_interp.errors import ConfigError
from simplestories_interp.render import views
from simplestories_interp.sae.features import feature_activations, feature_topk, match_roles
from simplestories_interp.sae.position_metrics import evaluate_by_position, late_features, max_decoder_cosine
from simplestories_interp.sae.training import load_sae, train_sae
from simplestories_interp.studies.config import ContextLengthConfig
from simplestories_interp.studies.context_pages import index_page, summary_text
from simplestories_interp.studies.study import Study, config_record, run_study, with_settings
from simplestories_interp.zoo.loading import load_model, require_loadable

SHOWN_FEATURES = 12


def context_length_study(cfg: ContextLengthConfig | None = None, **settings) -> Path:
    """Run the study as configured (``settings`` override ``cfg``'s fields); return the output folder."""
    return run_study(STUDY, with_settings(cfg, ContextLengthConfig, settings))


def _measure(cfg: ContextLengthConfig, out: Path, device) -> dict:
    model = load_model(cfg.model, device=device)
    _check(cfg, model)
    rows = build_rows(cfg.eval_data, model.tokenizer, model.cfg.n_ctx, cfg.eval_stories, per_document=True)
    results = {"config": config_record(cfg), "n_ctx": model.cfg.n_ctx,
               "buckets": [bucket_label(b) for b in POSITION_BUCKETS],
               "lengths": {k: token_lengths(f"{k}:0", model.tokenizer, 500) for k in ("synthetic", "synthetic-long")},
               "loss": loss_by_position(cfg, model, rows, device)}
    results.update(sae_study(cfg, model, rows, out))
    return results


def _check(cfg: ContextLengthConfig, model) -> None:
    """Refuse bad settings before the long work (sources, hook, windows)."""
    if max(cfg.windows) > model.cfg.n_ctx:
        raise ConfigError(f"--windows {cfg.windows}: the longest exceeds {cfg.model}'s n_ctx ({model.cfg.n_ctx})")
    parse_hooks(model, [cfg.sae.hook])
    for source in (cfg.sae.data, cfg.eval_data):
        next(iter_stories(source, limit=1), None)


def loss_by_position(cfg: ContextLengthConfig, model, rows: Rows, device) -> dict:
    """Per model: mean loss per position (a curve), per position bucket, and on later mentions by distance."""
    tokens = torch.from_numpy(rows.tokens)
    out = {}
    for name in tqdm([cfg.model, *cfg.short_models], desc="loss by position"):
        m = model if name == cfg.model else load_model(name, device=device)
        losses = position_losses(m, tokens)
        out[name] = {"n_ctx": m.cfg.n_ctx, "stories": len(tokens), "curve": losses.mean(0).tolist(),
                     "by_bucket": bucket_means(losses, POSITION_BUCKETS),
                     "mentions": mention_loss_by_distance(losses, rows) if rows.has_labels else []}
    return out


def _train(cfg: ContextLengthConfig, model, window: int, out: Path):
    """The SAE of one window: trained (or resumed), or reused when already finished."""
    folder = out / "saes" / f"window-{window}"
    if not (folder / "metrics.json").is_file():
        sae_cfg = replace(cfg.sae, model=cfg.model, context=window, eval_data=cfg.eval_data,
                          eval_stories=min(20, cfg.sae_eval_stories), density_stories=10 * cfg.sae_eval_stories,
                          device=cfg.device, out=str(folder), resume=(folder / "checkpoints").is_dir())
        train_sae(sae_cfg, model)
    return load_sae(folder, device=str(next(model.parameters()).device))


def sae_study(cfg: ContextLengthConfig, model, rows: Rows, out: Path) -> dict:
    """Q2 (metrics by position bucket per window) and Q1 (late features of the longest window)."""
    windows = sorted(set(cfg.windows))
    saes = {w: _train(cfg, model, w, out) for w in windows}
    eval_rows = rows.first_rows(cfg.sae_eval_stories)
    tokens = torch.from_numpy(eval_rows.tokens)
    metrics, sums = {}, {}
    for w in tqdm(windows, desc="SAEs by position"):
        metrics[w], sums[w] = evaluate_by_position(model, saes[w], cfg.sae.hook, tokens, POSITION_BUCKETS)
    longest = windows[-1]
    late = late_features(sums[longest], POSITION_BUCKETS, boundary=cfg.boundary, min_share=cfg.late_share)
    _describe_late(cfg, model, saes, eval_rows, late, out)
    alive = torch.nonzero(sums[longest].fires.sum(0) > 0).flatten()
    baseline = {str(w): _counterpart_share(saes[longest], saes[w], alive, cfg.counterpart_cosine) for w in windows[:-1]}
    return {"sae_windows": windows, "sae_metrics": {str(w): m for w, m in metrics.items()},
            "late_features": late, "late_feature_count": len(late), "alive_features": len(alive),
            "counterpart_share_all": baseline,
            "counterpart_share_late": {str(w): _share([f["counterparts"][str(w)] for f in late], cfg.counterpart_cosine)
                                       for w in windows[:-1]}}


def _share(cosines: list[float], threshold: float) -> float | None:
    return round(float(np.mean([c >= threshold for c in cosines])), 4) if cosines else None


def _counterpart_share(sae, other, features: torch.Tensor, threshold: float) -> float | None:
    cos = max_decoder_cosine(sae.W_dec.detach()[features], other.W_dec.detach())
    return _share(cos.tolist(), threshold)


def _describe_late(cfg: ContextLengthConfig, model, saes: dict, rows: Rows, late: list[dict], out: Path) -> None:
    """Add each late feature's best role and counterparts; write their top contexts page."""
    windows = sorted(saes)
    longest = saes[windows[-1]]
    if late:
        ids = [f["feature"] for f in late]
        acts = feature_activations(model, longest, cfg.sae.hook, rows)[:, ids]
        cos = {str(w): max_decoder_cosine(longest.W_dec.detach()[ids], saes[w].W_dec.detach()) for w in windows[:-1]}
        for i, (f, match) in enumerate(zip(late, match_roles(acts, rows), strict=True)):
            f.update(role=match.role, precision=round(match.precision, 3), f1=round(match.f1, 3),
                     counterparts={w: round(float(c[i]), 3) for w, c in cos.items()})
    shown = [f["feature"] for f in late[:SHOWN_FEATURES]]
    top = feature_topk(model, longest, cfg.sae.hook, rows, k=10) if shown else None
    intro = (f"Features of the {windows[-1]}-token-window SAE whose activation per token lies at least "
             f"{cfg.late_share:.0%} beyond position {cfg.boundary} (the {len(shown)} most late of {len(late)}).")
    body = views.neurons_page(top, shown, title="Features unique to longer prompts", intro=intro,
                              titles={f["feature"]: _late_title(f) for f in late[:SHOWN_FEATURES]}) if shown else \
        views.page("Features unique to longer prompts", f"<p>No feature meets the criteria. {intro}</p>")
    views.write(out / "late_features.html", body)


def _late_title(f: dict) -> str:
    cps = ", ".join(f"{w}-window {c:.2f}" for w, c in f["counterparts"].items())
    return (f"feature {f['feature']}: late share {f['late_share']:.2f}, role {f['role']} "
            f"(precision {f['precision']:.2f}); best decoder cosine {cps}")


STUDY = Study("context-length", check=lambda cfg: require_loadable(cfg.model, *cfg.short_models), measure=_measure,
              summary=summary_text, index=index_page)

"""Remove RMSNorm from a trained model by fine-tuning (``ssi noln``, ``ssi.remove_norms``).

The RMSNorm adaptation of Heimersheim 2024 ("You can remove GPT2's LayerNorm by
fine-tuning"): each norm site's per-token divisor rms(x) is replaced by a fixed constant c,
the site's average RMS measured on data just before it is frozen, one site at a time on a
schedule — the MLP-input norms first, then the attention-input norms, then the final norm —
with fine-tuning in between and after. A frozen site computes x * (w / c): a linear map, which
folds into the next layer's weights (W_Q/W_K/W_V, W_gate/W_in, W_U; the tied embedding is untied).
The result is a HookedTransformer with ``normalization_type=None`` whose logits equal the
fine-tuned model's (tested to 1e-4 on a small model; checked at export to 1e-5 of the largest
logit, since position 0 carries logits in the thousands where fp32 resolution is ~1e-4), saved
in the native format.

Position 0 (the ``[EOS]`` that starts every row) is measured separately and reported: its
residual stream does not depend on the input, so fine-tuning absorbs the difference; one
constant per site keeps the result foldable.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from simplestories_interp.data.packing import load_rows, pack
from simplestories_interp.data.rows import row_array
from simplestories_interp.devices import pick_device
from simplestories_interp.errors import ConfigError
from simplestories_interp.files import atomic_write_text, claim_output
from simplestories_interp.memory import require_training_fits
from simplestories_interp.training.config import NoLNConfig, TrainConfig, tokens_seen
from simplestories_interp.training.model import Llama, RMSNorm, load_pretrained, to_tl_state
from simplestories_interp.training.trainer import (
    Dist,
    batch_indices,
    evaluate,
    lr_at,
    make_optimizer,
    require_rows,
    train_step,
)
from simplestories_interp.zoo.formats import save_native
from simplestories_interp.zoo.registry import ModelSpec, norm_free_name


def norm_sites(model: Llama) -> list[tuple[str, RMSNorm]]:
    """Norm sites in removal order: MLP-input norms, attention-input norms, the final norm."""
    blocks = list(enumerate(model.blocks))
    return ([(f"blocks.{i}.ln2", b.ln2) for i, b in blocks] + [(f"blocks.{i}.ln1", b.ln1) for i, b in blocks]
            + [("ln_final", model.ln_final)])


@torch.no_grad()
def measure_rms(model: Llama, batches: list[torch.Tensor]) -> dict[str, dict[str, float]]:
    """Mean RMS of each site's input over the batches: positions >= 1, and position 0."""
    sums: dict[str, list[float]] = {}

    def hook(name):
        def fn(module, args):
            x = args[0].float()
            rms = x.pow(2).mean(-1).add(module.eps).sqrt()  # [batch, pos]
            acc = sums.setdefault(name, [0.0, 0.0, 0.0, 0.0])
            acc[0] += rms[:, 1:].sum().item()
            acc[1] += rms[:, 1:].numel()
            acc[2] += rms[:, 0].sum().item()
            acc[3] += rms[:, 0].numel()
        return fn

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in norm_sites(model)]
    try:
        for rows in batches:
            model(rows[:, :-1])
    finally:
        for h in handles:
            h.remove()
    return {n: {"rms": a[0] / a[1], "rms_first_position": a[2] / a[3]} for n, a in sums.items()}


def fold(model: Llama) -> tuple[ModelSpec, dict[str, torch.Tensor]]:
    """A norm-free spec and HookedTransformer state dict equal to ``model`` with all sites fixed."""
    spec = model.spec
    if any(m.fixed is None for _, m in norm_sites(model)):
        raise ConfigError("every norm site must be fixed before folding")
    tl = to_tl_state(model)
    scale = {n: (m.weight.detach() / m.fixed) for n, m in norm_sites(model)}
    kv = "_" if spec.n_key_value_heads != spec.n_heads else ""
    for i in range(spec.n_layers):
        for w in ("W_Q", f"{kv}W_K", f"{kv}W_V"):  # [heads, d_model, d_head]
            tl[f"blocks.{i}.attn.{w}"] = tl[f"blocks.{i}.attn.{w}"] * scale[f"blocks.{i}.ln1"][None, :, None]
        for w in ("W_gate", "W_in"):  # [d_model, d_mlp]
            tl[f"blocks.{i}.mlp.{w}"] = tl[f"blocks.{i}.mlp.{w}"] * scale[f"blocks.{i}.ln2"][:, None]
        del tl[f"blocks.{i}.ln1.w"], tl[f"blocks.{i}.ln2.w"]
    tl["unembed.W_U"] = tl["unembed.W_U"] * scale["ln_final"][:, None]
    del tl["ln_final.w"]
    return dataclasses.replace(spec, name=norm_free_name(spec.name), normalization="none"), tl


def _load_base(cfg: NoLNConfig):
    from simplestories_interp.data.tokenizer import load_tokenizer

    model, base = load_pretrained(cfg.model)
    if model.spec.normalization != "rms":
        raise ConfigError(f"{cfg.model!r} already has no normalisation layers; nothing to remove")
    return model, load_tokenizer(base.directory), base


def remove_norms(cfg: NoLNConfig, *, progress: bool = True) -> Path:
    """Fine-tune the norms out of ``cfg.model``; write the norm-free model to ``cfg.out``."""
    with claim_output(cfg.out, "model"):
        return _remove_norms(cfg, progress)


def _remove_norms(cfg: NoLNConfig, progress: bool) -> Path:
    from tqdm.auto import tqdm

    from simplestories_interp.zoo.loading import build_model

    device = pick_device(cfg.device)
    model, tokenizer, base = _load_base(cfg)
    loaded = model.spec.n_params * 4 if device.type == "cpu" else 0  # its weights are already in memory
    require_training_fits(model.spec, cfg.batch_size, min(cfg.micro_batch_size, cfg.batch_size), device,
                          doing="fine-tuning the norms out of", held=loaded)
    model.to(device)
    sites = norm_sites(model)
    total = cfg.steps_per_site * len(sites) + cfg.final_steps
    train_cfg = TrainConfig(batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size, lr=cfg.lr,
                            max_steps=total, warmup_steps=cfg.warmup_steps, min_lr_ratio=cfg.min_lr_ratio,
                            bf16=cfg.bf16, seed=cfg.seed, eval_batches=cfg.eval_batches, grad_clip=1.0)
    data = pack(cfg.data, tokenizer, model.spec.n_ctx, limit=cfg.n_stories, val_fraction=0.02, progress=progress)
    train_rows, val_rows = load_rows(data, "train"), load_rows(data, "val")
    require_rows(train_rows, val_rows, cfg.data, cfg.n_stories)  # before minutes of fine-tuning

    def batch(step: int) -> list[torch.Tensor]:
        idx = np.sort(batch_indices(step, len(train_rows), cfg.batch_size, cfg.seed))
        rows = torch.from_numpy(train_rows[idx].astype(np.int64)).to(device)
        return list(rows.split(cfg.micro_batch_size))

    def val() -> float:
        return evaluate(model, val_rows, train_cfg, cfg.micro_batch_size, device, Dist())

    report = {"val_loss_original": val()}
    stats = measure_rms(model, batch(0))
    for name, m in norm_sites(model):
        m.fixed = stats[name]["rms"]
    report["val_loss_removed_no_finetune"] = val()
    for _, m in norm_sites(model):
        m.fixed = None
    optimizer = make_optimizer(model, train_cfg)
    frozen: dict[str, dict] = {}
    for step in tqdm(range(total), disable=not progress, desc="removing norms", unit="step"):
        if step % cfg.steps_per_site == 0 and step // cfg.steps_per_site < len(sites):
            name, module = sites[step // cfg.steps_per_site]
            frozen[name] = measure_rms(model, batch(10_000 + step))[name]  # re-measured as upstream has moved
            module.fixed = frozen[name]["rms"]
        train_step(model, optimizer, batch(step), train_cfg, lr_at(step, train_cfg))
    report["val_loss_finetuned"] = val()
    report.update(tokens=tokens_seen(total, cfg.batch_size, model.spec.n_ctx), sites=frozen)
    return _export(model, tokenizer, cfg, report, base, build_model)


def _export(model: Llama, tokenizer, cfg: NoLNConfig, report: dict, base, build_model) -> Path:
    spec, state = fold(model.cpu().float())
    free = build_model(spec, state, tokenizer, device="cpu")
    rows = torch.from_numpy(load_rows_for_check(model, tokenizer))
    with torch.no_grad():
        ours, theirs = free(rows), model(rows)
    gap = (ours - theirs).abs().max().item()
    # Relative to the logit scale: the [EOS] at position 0 carries huge activations, and fp32
    # resolution at logits of 1e3 is already ~1e-4 absolute.
    relative = gap / (1.0 + theirs.abs().max().item())
    if relative > 1e-5:
        raise RuntimeError(f"folding changed the logits by {gap:.2e} ({relative:.1e} relative); this is a bug")
    report["fold_max_logit_difference"] = gap
    report["fold_relative_difference"] = relative
    report["val_loss_gap"] = report["val_loss_finetuned"] - report["val_loss_original"]
    card = _card(spec, cfg, report, base)
    command = card.split("```bash\n")[1].split("\n```")[0]
    training = {"noln": report, "config": dataclasses.asdict(cfg), "source": str(base.directory),
                "final": {"val_loss": report["val_loss_finetuned"], "tokens": report["tokens"]}, "command": command}
    out = save_native(free, cfg.out, spec=spec, card=card, training=training)
    atomic_write_text(Path(out) / "noln_report.json", json.dumps(report, indent=2))
    return Path(out)


def load_rows_for_check(model: Llama, tokenizer, n: int = 2) -> np.ndarray:
    return row_array("synthetic:31337", tokenizer, model.spec.n_ctx, limit=20)[:n]


def _card(spec: ModelSpec, cfg: NoLNConfig, r: dict, base) -> str:
    sites = "\n".join(f"| {n} | {s['rms']:.3f} | {s['rms_first_position']:.3f} |" for n, s in r["sites"].items())
    return "\n".join([
        f"# {spec.name}", "",
        f"`{cfg.model}` with every RMSNorm removed by fine-tuning (Heimersheim 2024, adapted to RMSNorm), "
        "folded into a model with no normalisation layers (native format).", "",
        "| | val loss |", "|---|---|",
        f"| original | {r['val_loss_original']:.4f} |",
        f"| norms fixed, no fine-tuning | {r['val_loss_removed_no_finetune']:.4f} |",
        f"| after fine-tuning ({r['tokens']:,} tokens) | {r['val_loss_finetuned']:.4f} |",
        f"| gap to the original | {r['val_loss_gap']:+.4f} |", "",
        "Fixed scales (mean RMS of the site's input when it was frozen; position 0 for reference):", "",
        "| site | RMS | RMS at position 0 |", "|---|---|---|", sites, "",
        f"Folding check: max logit difference {r['fold_max_logit_difference']:.1e} "
        f"({r['fold_relative_difference']:.1e} of the largest logit).", "",
        "## Reproduce", "", "```bash",
        f"ssi noln {cfg.model} --out {cfg.out} --steps-per-site {cfg.steps_per_site} --final-steps {cfg.final_steps} "
        f"--lr {cfg.lr:g} --n-stories {cfg.n_stories}" + (" --bf16" if cfg.bf16 else ""), "```",
    ])

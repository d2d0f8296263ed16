"""Which 1-layer models grow positional heads? A small grid around the shipped head model.

The TinyStories paper finds distance-based (positional) heads at several offsets in a 1-layer
GPT-Neo model; the CPU-trainable 1-layer model (SynthStories-1L: d_model 256, 8 heads, RoPE, 6.5M
tokens) shows none. This script changes one or two factors from that model -- learned absolute
positions instead of RoPE, 16 heads, d_model 128 or 512, 4x the training tokens or updates,
GPT-Neo's unscaled attention scores (alone and with learned positions) -- trains each with the
library's trainer on the built-in corpus (the shipped model's recipe otherwise), and measures every
head with the classifier that the planted-head test validates (tests/analysis/test_planted_heads.py),
over packed rows and over one story per row. The ``paper*`` variants are the paper's head-model
size (d_model 1024, 16 heads of 64, ~156M tokens): a GPU job, ``paper`` being the shipped
SynthStories-1L-1024 (``--retrain`` to train it anew), ``--toy`` the same path at CPU size.

    python experiments/head_grid.py --work runs/head_grid --out head_grid/        # all variants
    python experiments/head_grid.py --variants base abspos --out head_grid/       # a subset
    python experiments/head_grid.py --variants paper-scaled paper-rope --device cuda --out head_grid_gpu/
                                   # the paper-scale GPU runs (corpus written into --data first)

Output: ``results.json`` (every number: validation loss, per head its class, offset, Voita share,
the raw argmax-offset histogram, far content, entity lift) and ``table.md`` (the docs table).
Interrupted training resumes from the work directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

import simplestories_interp as ssi
from simplestories_interp import zoo
from simplestories_interp.analysis.heads import HeadStats, head_statistics
from simplestories_interp.data.rows import build_rows

BASE = "SynthStories-1L"
# The shipped head model's recipe (models/SynthStories-1L/README.md).
RECIPE = dict(model=BASE, tokenizer="SynthStories-1.25M", max_steps=400, batch_size=32, micro_batch_size=16,
              warmup_steps=40, n_stories=200_000, lr=3e-3, eval_every=50, eval_batches=16, checkpoint_every=100,
              log_every=10, bf16=True)
# name -> (architecture changes, training changes); "base" is the shipped model itself.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "base": ({}, {}),
    "abspos": ({}, {"positional": "absolute"}),
    "16-heads": ({"n_heads": 16, "d_head": 16, "n_key_value_heads": 16}, {}),
    "d_model-128": ({"d_model": 128, "d_head": 16, "d_mlp": 341}, {}),
    "4x-tokens": ({}, {"max_steps": 1600, "warmup_steps": 160}),
    # Same 6.5M tokens in 4x as many (smaller) updates: is it tokens or optimiser steps?
    "4x-steps": ({}, {"max_steps": 1600, "batch_size": 8, "micro_batch_size": 8, "warmup_steps": 160,
                      "eval_every": 200, "checkpoint_every": 400, "log_every": 40}),
    # Learned positions are 512 separate vectors: do they need the extra updates more than RoPE does?
    "abspos-4x-steps": ({}, {"positional": "absolute", "max_steps": 1600, "batch_size": 8, "micro_batch_size": 8,
                             "warmup_steps": 160, "eval_every": 200, "checkpoint_every": 400, "log_every": 40}),
    # GPT-Neo (the paper's models) does not divide attention scores by sqrt(d_head): same function
    # class, but the QK circuit learns faster and starts sharper. Alone and with learned positions.
    "unscaled": ({}, {"attn_scale": "none"}),
    # Toward the paper's width (hidden 1024, 16 heads of 64): twice the width, 16 heads of 32.
    "d_model-512": ({"d_model": 512, "n_heads": 16, "d_head": 32, "n_key_value_heads": 16, "d_mlp": 1365}, {}),
    "abspos-unscaled": ({}, {"positional": "absolute", "attn_scale": "none"}),
}


PAPER = "SynthStories-1L-1024"
# The paper-scale recipe as run on one H200 (models/SynthStories-1L-1024/README.md): the paper's head-model
# size (hidden 1024, 16 heads) on 600k stories written as 15 seeded shards; a GPU job (~3 min per model).
PAPER_CORPUS = dict(n_stories=600_000, seed=50_000, shard_size=40_000)
PAPER_RECIPE = dict(model=PAPER, tokenizer="SynthStories-1.25M", n_stories=600_000, batch_size=64, micro_batch_size=64,
                    max_steps=4763, lr=1e-3, warmup_steps=150, eval_every=952, checkpoint_every=1000, log_every=10,
                    bf16=True, positional="absolute", attn_scale="none")
# name -> training changes from the paper recipe: GPT-Neo's attention (as shipped), standard 1/sqrt(d_head)
# scores, and RoPE (the SimpleStories suite's positions) with standard scores.
PAPER_VARIANTS: dict[str, dict] = {"paper": {}, "paper-scaled": {"attn_scale": "standard"},
                                   "paper-rope": {"attn_scale": "standard", "positional": "rotary"}}
# --toy: the same code path at CPU size (a test runs it): a tiny architecture, corpus and run.
TOY_ARCH = dict(d_model=32, n_heads=2, d_head=16, n_key_value_heads=2, d_mlp=64)
TOY_CORPUS = dict(n_stories=200, seed=50_000, shard_size=100)
TOY_RECIPE = dict(n_stories=200, val_fraction=0.1, batch_size=4, micro_batch_size=4, max_steps=3, warmup_steps=1,
                  eval_every=3,
                  eval_batches=1, checkpoint_every=3, bf16=False)


def paper_corpus(data: Path, toy: bool = False) -> Path:
    """The paper recipe's corpus in ``data`` (shard i = the first stories of seed 50000 + i), written if absent."""
    if not data.is_dir():
        from simplestories_interp.data.corpus.synthetic import write_shards

        corpus = TOY_CORPUS if toy else PAPER_CORPUS
        write_shards(corpus["n_stories"], corpus["seed"], data, corpus["shard_size"], seed_per_shard=True)
    return data


def train_variant(name: str, base: str, arch: dict, recipe: dict, work: Path) -> Path:
    """Train ``base`` with ``arch`` changes by ``recipe`` into ``work/name`` (or reuse a finished run)."""
    model = base
    if arch:
        model = f"{base}-{name}"
        zoo.register(dataclasses.replace(zoo.get_spec(base), name=model, base=model, **arch), overwrite=True)
    run = work / name
    if not (run / "model").is_dir():
        cfg = ssi.load_config(**{**recipe, "model": model, "out": str(run)})
        ssi.train(cfg, resume=(run / "checkpoints").is_dir(), command=f"python experiments/head_grid.py ({name})")
    return run / "model"


def paper_model_dir(name: str, work: Path, data: Path, device: str | None, toy: bool, retrain: bool) -> Path:
    """The shipped paper-scale model for ``paper`` (unless ``retrain``), else train the variant on ``data``."""
    if name == "paper" and not (toy or retrain):
        return zoo.local_dir(zoo.get_spec(PAPER))
    recipe = {**PAPER_RECIPE, **(TOY_RECIPE if toy else {}), **PAPER_VARIANTS[name], "device": device}
    recipe["data"] = str(paper_corpus(data, toy))
    return train_variant(name, PAPER, TOY_ARCH if toy else {}, recipe, work)


def model_dir(name: str, work: Path, device: str | None = None) -> Path:
    """Train the variant (or reuse a finished run); return its model directory."""
    if name == "base":
        return zoo.local_dir(zoo.get_spec(BASE))
    arch, training = VARIANTS[name]
    return train_variant(name, BASE, arch, {**RECIPE, **training, "device": device}, work)


def head_record(s: HeadStats) -> dict:
    top = sorted(range(len(s.argmax_offsets)), key=lambda o: -s.argmax_offsets[o])[:3]
    peak = max(range(len(s.offset_attention)), key=s.offset_attention.__getitem__)
    return {"head": s.head, "class": s.head_class, "offset": s.offset, "voita_share": round(s.positional_share, 3),
            "argmax_offsets": s.argmax_offsets, "top_offsets": [(-o if o <= 16 else "far/first", s.argmax_offsets[o])
                                                                for o in top],
            "offset_attention": [round(x, 3) for x in s.offset_attention],
            "peak_mean_attention": (-peak, round(s.offset_attention[peak], 3)),
            "far_content": round(s.far_content, 3),
            "entity_lift": None if s.entity_lift is None else round(s.entity_lift, 2),
            "entropy": round(s.entropy, 3), "first_token": round(s.first_token, 3)}


@torch.no_grad()
def distance_dependence(model, rows, max_offset: int = 64, n_rows: int = 8) -> list[float]:
    """Per head (layer by layer): mean total-variation distance between a query's attention (over
    offsets 0 ... ``max_offset``, the rest lumped) and the head's average attention by offset.
    0 = the pattern depends on distance only (a positional head); near 1 = it depends on content."""
    device = next(model.parameters()).device
    _, cache = model.run_with_cache(torch.from_numpy(rows.tokens[:n_rows]).to(device),
                                    names_filter=lambda n: n.endswith("attn.hook_pattern"))
    out = []
    for layer in range(model.cfg.n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"].cpu().double()  # [batch, head, q, k]
        offsets = min(max_offset, pattern.shape[-1] // 2)
        q = torch.arange(offsets, pattern.shape[-1])
        by_offset = torch.stack([pattern[:, :, q, q - o] for o in range(offsets + 1)], -1)  # [b, h, q, o]
        by_offset = torch.cat([by_offset, 1 - by_offset.sum(-1, keepdim=True)], -1)
        profile = by_offset.mean((0, 2), keepdim=True)
        out += [round(float(x), 3) for x in (0.5 * (by_offset - profile).abs().sum(-1)).mean((0, 2))]
    return out


def per_story_summary(model, n_stories: int) -> dict:
    """The classes when each story is read alone from position 0 (as the paper reads them)."""
    rows = build_rows("synthetic:2023", model.tokenizer, model.cfg.n_ctx, n_stories, per_document=True, pad=True)
    stats = head_statistics(model, rows)
    classes = [s.head_class for s in stats]
    return {"classes": {c: classes.count(c) for c in sorted(set(classes))},
            "positional_offsets": sorted({s.offset for s in stats if s.head_class == "positional"}),
            "entity_seeking_semantic": [s.head for s in stats
                                        if s.head_class == "semantic" and (s.entity_lift or 0) >= 1.5],
            "heads": [head_record(s) for s in stats]}


def measure(name: str, directory: Path, n_stories: int, device: str = "cpu") -> dict:
    model = ssi.load_model(directory, device=device)
    card = json.loads((directory / "training_config.json").read_text())
    rows = build_rows("synthetic:2023", model.tokenizer, model.cfg.n_ctx, n_stories)
    stats = head_statistics(model, rows, progress=True)
    tv = distance_dependence(model, rows)
    classes = [s.head_class for s in stats]
    return {"variant": name, "directory": str(directory), "val_loss": card["final"]["val_loss"],
            "per_story": per_story_summary(model, n_stories),
            "tokens": card["final"]["tokens"], "n_heads": model.cfg.n_heads, "d_model": model.cfg.d_model,
            "positions": model.cfg.positional_embedding_type,
            "classes": {c: classes.count(c) for c in sorted(set(classes))},
            "positional_offsets": sorted({s.offset for s in stats if s.head_class == "positional"}),
            "distance_tv": tv, "heads": [{**head_record(s), "distance_tv": t} for s, t in zip(stats, tv, strict=True)]}


def table(results: list[dict]) -> str:
    lines = ["| variant | d_model | heads | positions | tokens | val loss | classes | positional offsets | "
             "best Voita share | best mean attention to one offset | distance TV (min-max) | "
             "per head: class (top argmax offset, share) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        heads = "; ".join(f"{h['class'][:3]} ({h['top_offsets'][0][0]}, {h['top_offsets'][0][1]:.2f})"
                          for h in r["heads"])
        classes = ", ".join(f"{n} {c}" for c, n in r["classes"].items())
        best = max(h["voita_share"] for h in r["heads"])
        offset, peak = max((h["peak_mean_attention"] for h in r["heads"]), key=lambda p: p[1])
        lines.append(f"| {r['variant']} | {r['d_model']} | {r['n_heads']} | {r['positions']} | {r['tokens']:,} | "
                     f"{r['val_loss']:.4f} | {classes} | {r['positional_offsets'] or 'none'} | {best:.2f} | "
                     f"{peak:.2f} ({offset}) | "
                     f"{min(r['distance_tv']):.2f}-{max(r['distance_tv']):.2f} | {heads} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=[*VARIANTS, *PAPER_VARIANTS], default=list(VARIANTS),
                        help="CPU-sized variants (default: all of them) and/or the GPU paper-scale ones")
    parser.add_argument("--work", default="runs/head_grid", help="training runs (resumable)")
    parser.add_argument("--out", default="head_grid", help="results.json and table.md")
    parser.add_argument("--n-stories", type=int, default=60, help="stories for the head statistics")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps; default: the best available")
    parser.add_argument("--data", default="data/paper-1L", help="the paper variants' corpus folder (written if absent)")
    parser.add_argument("--retrain", action="store_true",
                        help="train 'paper' anew instead of measuring the shipped one")
    parser.add_argument("--toy", action="store_true", help="paper variants at toy size (the CPU test of this path)")
    args = parser.parse_args(argv)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.variants:
        directory = (paper_model_dir(name, work, Path(args.data), args.device, args.toy, args.retrain)
                     if name in PAPER_VARIANTS else model_dir(name, work, args.device))
        results.append(measure(name, directory, args.n_stories, args.device or "cpu"))
        (out / "results.json").write_text(json.dumps(results, indent=1))
        (out / "table.md").write_text(table(results))
        print(table(results))


if __name__ == "__main__":
    main()

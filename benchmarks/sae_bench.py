"""SAE quality and speed: `ssi sae train` from a store vs SAELens's own runner, same run.

Quality (the issue's bar): on the default model's middle-layer residual stream, d_sae = 16 x
d_model, BatchTopK k = 32, --tokens training tokens (20M for the full bar) from an activation
store: explained variance >= 0.9, CE loss score >= 0.9, dead features < 5%, and the SAE training
itself within 15 minutes on 2 CPU cores.

Speed: tokens/s of our training from the store against
``sae_lens.LanguageModelSAETrainingRunner`` (which runs the model to make activations) on the
same model, hook, architecture, d_sae and batch size, for --speed-tokens tokens each.
Target ratio >= 2. For the breakdown it also times our training from the store with SAELens's
own dense training step (``--no-sparse``): store vs runner is what caching buys, sparse vs
dense is what the sparse step (:mod:`simplestories_interp.sae.sparse_step`) buys.

    python benchmarks/sae_bench.py [--tokens 20000000] [--store-stories 130000] [--speed-tokens 400000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import simplestories_interp as ssi
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.training import train_sae


def saelens_runner_tokens_per_s(model, hook: str, d_sae: int, k: int, batch: int, tokens: int, out: Path) -> float:
    import datasets
    from sae_lens import (
        BatchTopKTrainingSAEConfig,
        LanguageModelSAERunnerConfig,
        LanguageModelSAETrainingRunner,
    )
    from sae_lens.config import LoggingConfig

    rows = np.concatenate(list(iter_row_batches("synthetic:11", model.tokenizer, model.cfg.n_ctx, 64,
                                                limit=tokens // 150 + 100)))
    dataset = datasets.Dataset.from_dict({"input_ids": rows.tolist()})
    cfg = LanguageModelSAERunnerConfig(
        sae=BatchTopKTrainingSAEConfig(d_in=model.cfg.d_model, d_sae=d_sae, k=k),
        model_name=model.cfg.model_name, hook_name=hook, dataset_path="", is_dataset_tokenized=True,
        streaming=False, context_size=model.cfg.n_ctx, training_tokens=tokens, train_batch_size_tokens=batch,
        n_batches_in_buffer=8, store_batch_size_prompts=16, device="cpu", prepend_bos=False,
        logger=LoggingConfig(log_to_wandb=False), checkpoint_path=str(out), n_checkpoints=0,
        output_path=str(out / "final"),
    )
    start = time.perf_counter()
    LanguageModelSAETrainingRunner(cfg, override_model=model, override_dataset=dataset).run()
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=ssi.DEFAULT_MODEL)
    parser.add_argument("--hook", default=None, help="default: the middle layer's residual stream")
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--store-stories", type=int, default=130_000)
    parser.add_argument("--speed-tokens", type=int, default=400_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--work", default=None, help="working directory (kept); default: a temporary one")
    args = parser.parse_args()
    model = ssi.load_model(args.model, device="cpu")
    hook = args.hook or f"blocks.{model.cfg.n_layers // 2 - 1}.hook_resid_post"
    d_sae = 16 * model.cfg.d_model
    work = Path(args.work or tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        store = ssi.cache_activations(model, [hook], work / "store", n_stories=args.store_stories, progress=False)
        cache_s = time.perf_counter() - start
        print(f"store: {store.n_tokens:,} tokens of {hook} in {cache_s:.0f}s")

        def ours(tokens: int, out: str, eval_stories: int = 100, sparse: bool = True,
                 density_stories: int = 3000) -> tuple[float, Path]:
            shutil.rmtree(work / out, ignore_errors=True)
            cfg = SAEConfig(model=args.model, hook=hook, arch="batchtopk", d_sae=d_sae, k=args.k, tokens=tokens,
                            batch_size=args.batch_size, store=str(work / "store"), out=str(work / out), device="cpu",
                            eval_stories=eval_stories, sparse=sparse,
                            density_stories=density_stories)
            t0 = time.perf_counter()
            path = train_sae(cfg, model=model)
            return time.perf_counter() - t0, path

        fast_s, _ = ours(args.speed_tokens, "speed", eval_stories=5, density_stories=5)  # evaluation kept small
        dense_s, _ = ours(args.speed_tokens, "speed_dense", eval_stories=5, density_stories=5, sparse=False)
        theirs = saelens_runner_tokens_per_s(model, hook, d_sae, args.k, args.batch_size, args.speed_tokens,
                                             work / "saelens")
        mine = args.speed_tokens / fast_s
        print(f"speed ({args.speed_tokens:,} tokens, batch {args.batch_size}, d_sae {d_sae}, BatchTopK k={args.k}):")
        print(f"  ssi sae train (store)                {mine:>9,.0f} tokens/s "
              "(whole call, 5-story evaluation included)")
        print(f"  ssi sae train --no-sparse (store)    {args.speed_tokens / dense_s:>9,.0f} tokens/s "
              "(SAELens's dense step)")
        print(f"  SAELens LanguageModelSAETrainingRunner {theirs:>7,.0f} tokens/s")
        print(f"  ratio ours / SAELens runner {mine / theirs:.2f}  (target >= 2); "
              f"sparse / dense step {dense_s / fast_s:.2f}")

        seconds, path = ours(args.tokens, "quality")
        metrics = json.loads((path / "metrics.json").read_text())
        print(f"quality ({args.tokens:,} tokens, {seconds / 60:.1f} min of SAE training, "
              f"100-story held-out evaluation included):")
        for key in ("explained_variance", "ce_loss_score", "dead_fraction", "dense_fraction", "l0", "kl_sae"):
            print(f"  {key:20} {metrics[key]:.4f}")
        print(f"  (dead and dense counted over {metrics['density_tokens']:,} held-out tokens)")
        ok = (metrics["explained_variance"] >= 0.9 and metrics["ce_loss_score"] >= 0.9
              and metrics["dead_fraction"] < 0.05)
        print(f"  bar (EV >= 0.9, CE score >= 0.9, dead < 5%, <= 15 min): "
              f"{'met' if ok and seconds <= 900 else 'NOT met'}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

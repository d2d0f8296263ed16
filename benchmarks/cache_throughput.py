"""Activation caching tokens/s: ours vs (a) a bare forward pass and (b) a naive full cache.

All three run the same model over the same rows in the same process:
  (a) bare: ``model(tokens, stop_at_layer=L + 1)`` with no hooks, nothing stored — the ceiling;
  (b) naive: ``model.run_with_cache(tokens)`` (every hook) saved with ``torch.save`` per batch;
  ours: ``ssi.cache_activations`` writing the chosen hooks to a sharded safetensors store.
Targets: ours >= 0.8 x (a) and >= 1.5 x (b).

    python benchmarks/cache_throughput.py [--model SynthStories-1.25M] [--hook blocks.1.hook_resid_post]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

import simplestories_interp as ssi
from simplestories_interp.analysis.activations import cache_activations
from simplestories_interp.analysis.hooks import hook_layer
from simplestories_interp.data.rows import iter_row_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=ssi.DEFAULT_MODEL)
    parser.add_argument("--hook", default="blocks.1.hook_resid_post")
    parser.add_argument("--n-stories", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    model = ssi.load_model(args.model, device="cpu")
    batches = [torch.from_numpy(b) for b in iter_row_batches("synthetic:7", model.tokenizer, model.cfg.n_ctx,
                                                             args.batch_size, limit=args.n_stories)]
    n_tokens = sum(b.numel() for b in batches)
    stop = hook_layer(model, args.hook) + 1
    tmp = Path(tempfile.mkdtemp())
    try:
        def bare():
            with torch.no_grad():
                for b in batches:
                    model(b, stop_at_layer=stop)

        def naive():
            with torch.no_grad():
                for i, b in enumerate(batches):
                    _, cache = model.run_with_cache(b)
                    torch.save(dict(cache), tmp / f"naive_{i}.pt")

        def ours():
            shutil.rmtree(tmp / "store", ignore_errors=True)
            cache_activations(model, args.hook, tmp / "store", source="synthetic:7", n_stories=args.n_stories,
                              batch_size=args.batch_size, progress=False)

        results = {}
        for name, fn in (("bare forward (a)", bare), ("ssi cache", ours), ("naive full cache (b)", naive)):
            start = time.perf_counter()
            fn()
            results[name] = n_tokens / (time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.model}, hook {args.hook}, {n_tokens} tokens, {torch.get_num_threads()} threads")
    for name, tps in results.items():
        print(f"  {name:22} {tps:>10,.0f} tokens/s")
    ours_tps = results["ssi cache"]
    print(f"  ours / bare  = {ours_tps / results['bare forward (a)']:.2f}  (target >= 0.8)")
    print(f"  ours / naive = {ours_tps / results['naive full cache (b)']:.2f}  (target >= 1.5)")


if __name__ == "__main__":
    main()

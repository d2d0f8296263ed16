"""Neuron-scan tokens/s (streaming top-k of every MLP neuron) vs a bare forward pass, same run.

Target: scan >= 0.7 x the bare forward pass that stops at the same layer.

    python benchmarks/neuron_scan.py [--model SynthStories-1.25M] [--layer 2] [--n-stories 300]
"""

from __future__ import annotations

import argparse
import time

import torch

import simplestories_interp as ssi
from simplestories_interp.analysis.neurons import scan
from simplestories_interp.data.rows import build_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=ssi.DEFAULT_MODEL)
    parser.add_argument("--layer", type=int, default=2)
    parser.add_argument("--n-stories", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    model = ssi.load_model(args.model, device="cpu")
    rows = build_rows("synthetic:7", model.tokenizer, model.cfg.n_ctx, args.n_stories, annotated=True)
    tokens = torch.from_numpy(rows.tokens)

    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(tokens), args.batch_size):
            model(tokens[i:i + args.batch_size], stop_at_layer=args.layer + 1)
    bare = tokens.numel() / (time.perf_counter() - start)

    start = time.perf_counter()
    scan(model, f"blocks.{args.layer}.mlp.hook_post", rows=rows, k=20, batch_size=args.batch_size)
    ours = tokens.numel() / (time.perf_counter() - start)
    print(f"{args.model}, blocks.{args.layer}.mlp.hook_post, {tokens.numel()} tokens")
    print(f"  bare forward {bare:>10,.0f} tokens/s")
    print(f"  neuron scan  {ours:>10,.0f} tokens/s")
    print(f"  ratio {ours / bare:.2f}  (target >= 0.7)")


if __name__ == "__main__":
    main()

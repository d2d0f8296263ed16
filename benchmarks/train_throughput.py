"""Training tokens/s of our trainer vs a reference loop over HF LlamaForCausalLM, same run.

Both sides: the same architecture (random init), the same batch of rows, the same sequence
length, thread count and optimiser (AdamW, grad clipping); one optimiser step = forward,
backward, clip, step. Our side is :func:`ssi.training.trainer.train_step` on the trainer's
model; the reference is the plain loop people write around ``LlamaForCausalLM`` (sdpa
attention). Timings alternate between the two to share any machine noise, and the median
step time is used. The ratio ours/HF must be >= 1.0.

    python benchmarks/train_throughput.py [--sizes 1.25M 5M] [--batch 16] [--seq 512] [--bf16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from simplestories_interp import zoo
from simplestories_interp.training.config import TrainConfig
from simplestories_interp.training.model import Llama
from simplestories_interp.training.trainer import make_optimizer, train_step


def hf_model(spec):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=spec.d_vocab, hidden_size=spec.d_model, intermediate_size=spec.d_mlp,
        num_hidden_layers=spec.n_layers, num_attention_heads=spec.n_heads,
        num_key_value_heads=spec.n_key_value_heads, head_dim=spec.d_head,
        max_position_embeddings=spec.n_ctx, rms_norm_eps=spec.eps, tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


def hf_step(model, optimizer, rows: torch.Tensor, bf16: bool) -> float:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(rows[:, :-1]).logits
    loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), rows[:, 1:].flatten())
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def bench(size: str, batch: int, seq: int, steps: int, bf16: bool) -> dict:
    spec = zoo.get_spec(f"SimpleStories-{size}").variant(n_ctx=seq)
    cfg = TrainConfig(batch_size=batch, bf16=bf16)
    torch.manual_seed(0)
    ours = Llama(spec)
    ours_opt = make_optimizer(ours, cfg)
    ref = hf_model(spec)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    rows = torch.randint(2, spec.d_vocab, (batch, seq))
    times = {"ours": [], "hf": []}
    runs = {"ours": lambda: train_step(ours, ours_opt, [rows], cfg, cfg.lr),
            "hf": lambda: hf_step(ref, ref_opt, rows, bf16)}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(steps):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    tokens = batch * (seq - 1)
    result = {name: tokens / statistics.median(t) for name, t in times.items()}
    return {"size": size, **result, "ratio": result["ours"] / result["hf"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1.25M", "5M"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast on both sides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"train step, batch {args.batch} x seq {args.seq}, {args.threads} threads, "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, median of {args.steps} steps")
    print(f"{'size':>6} {'ssi tok/s':>11} {'HF tok/s':>10} {'ratio':>6}")
    for size in args.sizes:
        r = bench(size, args.batch, args.seq, args.steps, args.bf16)
        print(f"{r['size']:>6} {r['ours']:>11,.0f} {r['hf']:>10,.0f} {r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()

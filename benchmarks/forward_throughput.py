"""Forward-pass tokens/s of a model loaded by ``ssi.load_model`` vs Hugging Face, same run.

For each architecture: a random-weight ``LlamaForCausalLM`` with the exact config is saved,
loaded back as a HookedTransformer, and both run the same token batch with the same thread
count. Prints tokens/s and the ratio ours / HF (HookedTransformer's attention is unfused, so
expect < 1 at long sequences; this is the price of hooks, measured rather than guessed).

    python benchmarks/forward_throughput.py [--sizes 1.25M 5M] [--batch 8] [--seq 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import simplestories_interp as ssi
from simplestories_interp import zoo
from simplestories_interp.zoo.convert import tl_to_hf
from simplestories_interp.zoo.formats import save_hf


def tokens_per_s(fn, tokens: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        fn(tokens)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            fn(tokens)
        return tokens.numel() * repeats / (time.perf_counter() - start)


def bench(size: str, batch: int, seq: int, repeats: int, directory: Path) -> dict:
    from transformers import LlamaForCausalLM

    from simplestories_interp.data.tokenizer import train_tokenizer

    spec = zoo.get_spec(f"SimpleStories-{size}")
    gen = torch.Generator().manual_seed(0)
    letters = torch.randint(0, 26, (6000, 6), generator=gen).tolist()
    words = ["".join(chr(97 + c) for c in w[: 2 + i % 5]) for i, w in enumerate(letters)]
    tokenizer = train_tokenizer([" ".join(words[i::20]) for i in range(20)], vocab_size=spec.d_vocab)
    random_model = ssi.build_model(spec, device="cpu")
    hf_state = tl_to_hf({k: v for k, v in random_model.state_dict().items()}, spec)
    start = time.perf_counter()
    out = save_hf(hf_state, spec, directory / size, tokenizer=tokenizer)
    model = ssi.load_model(out, device="cpu")
    load_s = time.perf_counter() - start
    hf = LlamaForCausalLM.from_pretrained(str(out)).eval()
    tokens = torch.randint(2, spec.d_vocab, (batch, seq))
    ours = tokens_per_s(model, tokens, repeats)
    theirs = tokens_per_s(lambda t: hf(t).logits, tokens, repeats)
    return {"size": size, "ours": ours, "hf": theirs, "ratio": ours / theirs, "save+load_s": load_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1.25M", "5M"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    print(f"forward, batch {args.batch} x seq {args.seq}, {args.threads} threads, fp32, CPU")
    print(f"{'size':>6} {'ssi tok/s':>12} {'HF tok/s':>12} {'ratio':>7} {'save+load s':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            r = bench(size, args.batch, args.seq, args.repeats, Path(tmp))
            print(f"{r['size']:>6} {r['ours']:>12,.0f} {r['hf']:>12,.0f} {r['ratio']:>7.2f} "
                  f"{r['save+load_s']:>12.2f}")


if __name__ == "__main__":
    main()

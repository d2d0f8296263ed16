"""Evaluate a norm-free model against its original (issue: norm-free variants).

Prints (1) the validation loss of the original and the norm-free model on the same fresh
synthetic stories, and the gap (goal: <= 0.05 nats, what Heimersheim 2024 reached on GPT-2);
(2) per norm site the fixed scale it was frozen at (and position 0's RMS for comparison), with
the losses recorded during removal; (3) what norm removal enables: a direct logit attribution
whose parts (embedding, every head, every neuron) sum exactly to the logit; and, with
``--from-scratch-steps N``, (4) norm-free models made at an equal token budget: removal by
fine-tuning after N steps with RMSNorm, against training without norms from scratch (plain, and
with zero-initialised residual branches), and RMSNorm throughout as the reference.

    python experiments/norm_free.py [--original SynthStories-1.25M] [--free SynthStories-1.25M-noLN]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import simplestories_interp as ssi
from simplestories_interp.analysis.attribution import direct_logit_attribution
from simplestories_interp.zoo.loading import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original", default=ssi.DEFAULT_MODEL)
    parser.add_argument("--free", default=ssi.DEFAULT_MODEL + "-noLN")
    parser.add_argument("--eval-stories", type=int, default=600)
    parser.add_argument("--from-scratch-steps", type=int, default=0,
                        help="N: compare norm-free models at equal tokens (pretraining steps before removal)")
    parser.add_argument("--scratch-site-steps", type=int, default=5, help="S: fine-tuning steps per norm site")
    parser.add_argument("--scratch-final-steps", type=int, default=55, help="F: fine-tuning steps after the last site")
    parser.add_argument("--scratch-batch", type=int, default=8, help="rows of 512 tokens per step")
    args = parser.parse_args()

    original, free = ssi.load_model(args.original, device="cpu"), ssi.load_model(args.free, device="cpu")
    a = ssi.eval_loss(original, "synthetic:4242", n_stories=args.eval_stories, max_rows=None)
    b = ssi.eval_loss(free, "synthetic:4242", n_stories=args.eval_stories, max_rows=None)
    print(f"val loss ({args.eval_stories} fresh synthetic stories): original {a:.4f}, norm-free {b:.4f}, "
          f"gap {b - a:+.4f} nats (goal <= 0.05)")

    report_file = resolve(args.free).directory / "noln_report.json"
    if report_file.is_file():
        report = json.loads(report_file.read_text())
        print(f"during removal: original {report['val_loss_original']:.4f}, norms fixed without fine-tuning "
              f"{report['val_loss_removed_no_finetune']:.4f}, fine-tuned {report['val_loss_finetuned']:.4f} "
              f"({report['tokens']:,} tokens)")
        print(f"{'site':14} {'fixed RMS':>10} {'RMS at pos 0':>13}")
        for site, s in report["sites"].items():
            print(f"{site:14} {s['rms']:10.3f} {s['rms_first_position']:13.3f}")

    tokens = free.to_tokens("One day, Lily went to the park with her dog Max. Lily said")[0]
    pos = len(tokens) - 1
    target = int(free(tokens[None])[0, pos].argmax())
    attr = direct_logit_attribution(free, tokens, pos, target)
    top_head = divmod(int(attr.heads.abs().argmax()), attr.heads.shape[1])
    top_neuron = divmod(int(attr.neurons.abs().argmax()), attr.neurons.shape[1])
    print(f"direct logit attribution of {free.tokenizer.decode([target])!r} at the last position: "
          f"embedding {attr.embed:+.3f}, heads {float(attr.heads.sum()):+.3f} (largest L{top_head[0]}H{top_head[1]} "
          f"{float(attr.heads[top_head]):+.3f}), neurons {float(attr.neurons.sum()):+.3f} (largest "
          f"L{top_neuron[0]}N{top_neuron[1]} {float(attr.neurons[top_neuron]):+.3f}); sum {attr.total:.5f} vs logit "
          f"{attr.logit:.5f} (difference {abs(attr.total - attr.logit):.1e})")

    if args.from_scratch_steps:
        from_scratch(args)


def from_scratch(args) -> None:
    """Norm-free models at an equal token budget: removal by fine-tuning vs training without norms.

    Every run uses the 1.25M architecture, the default model's tokenizer, batches of
    ``--scratch-batch`` rows of 512 tokens and lr 3e-3: RMSNorm for N steps then norm removal
    (9 sites x S steps + F final steps); and, for the same N + 9S + F steps, RMSNorm throughout
    (the reference), no norms, and no norms with the attention and MLP output projections
    initialised at zero (``--init zero-residual``, Fixup/ReZero-style).
    """
    n, site, final = args.from_scratch_steps, args.scratch_site_steps, args.scratch_final_steps
    batch = args.scratch_batch
    total = n + 9 * site + final
    common = dict(model="SynthStories-1.25M", n_stories=20000, batch_size=batch, lr=3e-3, warmup_steps=total // 10,
                  tokenizer=args.original, eval_every=total, checkpoint_every=total)
    runs = {"RMSNorm throughout": dict(normalization="rms"), "no norms": dict(normalization="none"),
            "no norms, zero-residual init": dict(normalization="none", init="zero-residual")}
    losses = {}
    with tempfile.TemporaryDirectory() as tmp:
        pre = ssi.train(ssi.load_config(**common, max_steps=n, out=str(Path(tmp) / "pre")))
        removed = ssi.remove_norms(ssi.NoLNConfig(
            model=str(pre), out=str(Path(tmp) / "removed"), n_stories=20000, steps_per_site=site, final_steps=final,
            batch_size=batch, micro_batch_size=batch, lr=1e-3))
        losses[f"RMSNorm {n} steps, then norms removed ({9 * site + final} steps)"] = removed
        for name, settings in runs.items():
            losses[name] = ssi.train(ssi.load_config(**common, **settings, max_steps=total, out=str(Path(tmp) / name)))
        print(f"from scratch, {total} steps x {batch} rows of 512 tokens ({total * batch * 511:,} tokens) each:")
        for name, path in losses.items():
            model = ssi.load_model(path, device="cpu")
            loss = ssi.eval_loss(model, "synthetic:4242", n_stories=args.eval_stories, max_rows=None)
            print(f"  {name:55} val loss {loss:.4f}")


if __name__ == "__main__":
    main()

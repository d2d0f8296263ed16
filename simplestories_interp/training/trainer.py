"""The trainer for the whole suite and its variants (``ssi train``, ``ssi.train``).

One optimiser step is :func:`train_step` (gradient accumulation over micro-batches, bf16
autocast, clipping); :func:`train` owns the loop around it: data, schedule, validation,
metrics, checkpoints, resume and the final export. Under ``torchrun`` each process takes its
share of every global batch and DDP averages the gradients, so a run's loss curve does not
depend on the number of processes.

Data order is a pure function of (seed, step): resuming from a checkpoint replays exactly the
batches an uninterrupted run would have seen, so a killed and resumed run ends with the same
weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from simplestories_interp.data.packing import load_rows, pack, read_meta
from simplestories_interp.devices import pick_device
from simplestories_interp.errors import ConfigError
from simplestories_interp.training import checkpoints as ckpt
from simplestories_interp.training.config import TrainConfig, save_config
from simplestories_interp.training.export import export_model, prepare_tokenizer, resolve_spec
from simplestories_interp.training.model import Llama


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def init_distributed(device: torch.device) -> Dist:
    """Join the torchrun process group if there is one (nccl on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr * min_lr_ratio at the last step."""
    warmup = min(cfg.warmup_steps, cfg.max_steps // 10)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, cfg.max_steps - 1 - warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_indices(step: int, n_rows: int, batch_size: int, seed: int) -> np.ndarray:
    """Row indices of global batch ``step``: consecutive slices of per-epoch permutations."""
    start, out = step * batch_size, []
    while len(out) < batch_size:
        epoch, offset = divmod(start + len(out), n_rows)
        perm = np.random.default_rng([seed, epoch]).permutation(n_rows)
        out.extend(perm[offset: offset + batch_size - len(out)].tolist())
    return np.asarray(out)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def micro_loss(model: torch.nn.Module, rows: torch.Tensor, bf16: bool) -> torch.Tensor:
    """Next-token loss of one micro-batch (inputs are the first n_ctx - 1 tokens of each row)."""
    with torch.autocast(rows.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(rows[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), rows[:, 1:].flatten())


def train_step(model, optimizer, micro_batches: list[torch.Tensor], cfg: TrainConfig, lr: float) -> float:
    """One optimiser step over the micro-batches; returns the mean loss of this process."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    total = 0.0
    for i, rows in enumerate(micro_batches):
        last = i == len(micro_batches) - 1
        sync = contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            loss = micro_loss(model, rows, cfg.bf16) / len(micro_batches)
            loss.backward()
        total += loss.item()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


@torch.no_grad()
def evaluate(model, rows: np.ndarray, cfg: TrainConfig, micro: int, device, d: Dist) -> float | None:
    """Mean validation loss over the first eval_batches micro-batches (shared across ranks)."""
    if len(rows) == 0:
        return None
    model.eval()
    n = min(len(rows), cfg.eval_batches * micro)
    mine = range(d.rank * micro, n, micro * d.world)
    losses = [micro_loss(model, torch.from_numpy(rows[i:i + micro].astype(np.int64)).to(device), cfg.bf16)
              for i in mine]
    total = torch.tensor([sum(x.item() for x in losses), float(len(losses))])
    if d.world > 1:
        dist.all_reduce(total)
    model.train()
    return (total[0] / total[1]).item() if total[1] > 0 else None


def _fingerprint(cfg: TrainConfig, spec, data_dir: Path) -> str:
    keys = {k: getattr(cfg, k) for k in ("batch_size", "max_steps", "lr", "seed", "warmup_steps",
                                         "weight_decay", "min_lr_ratio", "init_from")}
    blob = json.dumps([dataclasses.asdict(spec), data_dir.name, keys], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _split_batch(idx: np.ndarray, rows: np.ndarray, micro: int, d: Dist, device) -> list[torch.Tensor]:
    per_rank = len(idx) // d.world
    mine = np.sort(idx[d.rank * per_rank:(d.rank + 1) * per_rank])
    data = torch.from_numpy(rows[mine].astype(np.int64))
    return [data[i:i + micro].to(device) for i in range(0, len(data), micro)]


def train(cfg: TrainConfig, *, resume: bool = False, command: str | None = None,
          stop_after: int | None = None) -> Path:
    """Train a model as configured; return the exported model directory (``OUT/model``).

    ``stop_after`` ends the loop early after that many steps of this invocation (for tests
    and time-boxed jobs); a later ``resume=True`` call continues exactly.
    """
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    d = init_distributed(device)
    if d.world > 1 and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
    if cfg.batch_size % d.world:
        raise ConfigError(f"batch_size {cfg.batch_size} must be divisible by the {d.world} processes")
    micro = cfg.micro_batch_size or cfg.batch_size // d.world
    if (cfg.batch_size // d.world) % micro:
        raise ConfigError(f"per-process batch {cfg.batch_size // d.world} is not a multiple of "
                          f"micro_batch_size {micro}")
    run = Path(cfg.out)
    if not resume and ckpt.list_checkpoints(run):
        raise ConfigError(f"{str(run)!r} already holds a training run; pass --resume to continue it "
                          "or choose another --out")
    spec, init_state = resolve_spec(cfg)
    tokenizer = prepare_tokenizer(cfg, spec, run, d)
    spec = dataclasses.replace(spec, d_vocab=len(tokenizer))
    if d.main:
        data_dir = pack(cfg.data, tokenizer, spec.n_ctx, limit=cfg.n_stories, val_fraction=cfg.val_fraction)
    d.barrier()
    data_dir = pack(cfg.data, tokenizer, spec.n_ctx, limit=cfg.n_stories,
                    val_fraction=cfg.val_fraction, progress=False)
    train_rows, val_rows = load_rows(data_dir, "train"), load_rows(data_dir, "val")

    torch.manual_seed(cfg.seed)
    raw = Llama(spec).to(device)
    if init_state is not None:
        raw.load_state_dict(init_state)
    optimizer = make_optimizer(raw, cfg)
    fingerprint = _fingerprint(cfg, spec, data_dir)
    start = 0
    if resume and ckpt.list_checkpoints(run):
        state = ckpt.load_checkpoint(ckpt.list_checkpoints(run)[-1], raw, optimizer, fingerprint)
        start = state["step"]
        if start >= cfg.max_steps and (run / "model").is_dir():
            raise ConfigError(f"the run in {str(run)!r} already finished ({start} of {cfg.max_steps} "
                              "steps); raise --max-steps to train longer, or use another --out")
    model = torch.compile(raw) if cfg.compile else raw
    if d.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    if d.main:
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run / "config.yaml")
    return _loop(cfg, d, model, raw, optimizer, train_rows, val_rows, spec, tokenizer, run, device,
                 micro, start, fingerprint, data_dir, command, stop_after)


def _loop(cfg, d, model, raw, optimizer, train_rows, val_rows, spec, tokenizer, run, device, micro,
          start, fingerprint, data_dir, command, stop_after) -> Path:
    logger = _wandb(cfg) if cfg.wandb and d.main else None
    tokens_per_step = cfg.batch_size * (spec.n_ctx - 1)
    metrics = open(run / "metrics.jsonl", "a") if d.main else None
    bar = tqdm(total=cfg.max_steps, initial=start, disable=not d.main, desc="training", unit="step")
    recent, t0, val_loss = [], time.perf_counter(), None
    end = cfg.max_steps if stop_after is None else min(cfg.max_steps, start + stop_after)
    for step in range(start, end):
        idx = batch_indices(step, len(train_rows), cfg.batch_size, cfg.seed)
        loss = train_step(model, optimizer, _split_batch(idx, train_rows, micro, d, device), cfg, lr_at(step, cfg))
        recent.append(loss)
        done = step + 1
        record = None
        if done % cfg.log_every == 0 or done == cfg.max_steps:
            elapsed = time.perf_counter() - t0
            record = {"step": done, "loss": _mean_across(recent, d), "lr": lr_at(step, cfg),
                      "tokens_per_s": len(recent) * tokens_per_step / elapsed, "tokens": done * tokens_per_step}
            recent, t0 = [], time.perf_counter()
        if done % cfg.eval_every == 0 or done == cfg.max_steps:
            val_loss = evaluate(model, val_rows, cfg, micro, device, d)
            record = {**(record or {"step": done}), "val_loss": val_loss}
        if record and d.main:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            bar.set_postfix(loss=f"{record.get('loss', float('nan')):.3f}")
            if logger:
                logger.log(record, step=done)
        if d.main and (done % cfg.checkpoint_every == 0 or done in (cfg.max_steps, end)):
            ckpt.save_checkpoint(run, done, raw, optimizer,
                                 {"fingerprint": fingerprint, "tokens": done * tokens_per_step},
                                 keep=cfg.keep_checkpoints)
        bar.update(1)
    bar.close()
    if metrics:
        metrics.close()
    d.barrier()
    if end < cfg.max_steps:
        return run
    out = run / "model"
    if d.main:
        export_model(raw, spec, tokenizer, out, cfg, run, command, read_meta(data_dir))
    d.barrier()
    return out


def _mean_across(values: list[float], d: Dist) -> float:
    total = torch.tensor([sum(values), float(len(values))])
    if d.world > 1:
        dist.all_reduce(total)
    return (total[0] / total[1]).item()


def _wandb(cfg: TrainConfig):
    import wandb

    return wandb.init(project=cfg.wandb_project, config=dataclasses.asdict(cfg))

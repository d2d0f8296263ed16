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
from tqdm.auto import tqdm

from simplestories_interp.checkpoints import (
    list_checkpoints,
    load_latest,
    require_checkpoint,
    save_checkpoint,
    truncate_log,
)
from simplestories_interp.data.packing import load_rows, pack, read_meta
from simplestories_interp.devices import pick_device
from simplestories_interp.errors import ConfigError, SSIError, TooLargeError
from simplestories_interp.files import claim_output
from simplestories_interp.memory import require_training_fits
from simplestories_interp.training.config import TrainConfig, save_config, tokens_seen
from simplestories_interp.training.export import export_model, prepare_tokenizer, resolve_spec
from simplestories_interp.training.model import Llama, load_standard_state, next_token_loss
from simplestories_interp.zoo.registry import ModelSpec


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

    def all_or_none(self, check, device: torch.device) -> None:
        """Run ``check`` on every rank and refuse on all if it refuses on one: each rank measures its own
        device, and a rank that stopped alone would leave the others waiting at the next barrier."""
        error = None
        try:
            check()
        except SSIError as exc:
            error = exc
        if self.world > 1:
            flag = torch.tensor([0 if error is None else 1], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if error is None and flag.item():
                raise TooLargeError("another rank of this run refused it (its message is in that rank's output); "
                                    "every rank stops")
        if error is not None:
            raise error


def init_distributed(device: torch.device) -> Dist:
    """Join the torchrun process group if there is one (nccl on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up (capped at a tenth of the run), then cosine decay from lr to lr * min_lr_ratio
    at the last step: the one learning-rate schedule (norm removal uses it too)."""
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
    return next_token_loss(logits, rows)


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


def require_rows(train_rows: np.ndarray, val_rows: np.ndarray | None, data: str, n_stories: int | None) -> None:
    """Refuse data too small to train on (and, when ``val_rows`` is given, to validate on) up front."""
    short = len(train_rows) == 0 or (val_rows is not None and len(val_rows) == 0)
    if short:
        n_val = "" if val_rows is None else f" and {len(val_rows)} validation"
        raise ConfigError(f"{n_stories} stories of {data!r} pack into {len(train_rows)} training{n_val} row(s) of "
                          "n_ctx tokens, but at least one of each is needed; raise --n-stories or use more data")


def _fingerprint(cfg: TrainConfig, spec, data_dir: Path) -> str:
    keys = {k: getattr(cfg, k) for k in ("batch_size", "max_steps", "lr", "seed", "warmup_steps",
                                         "weight_decay", "min_lr_ratio", "init_from")}
    for name, default in (("init", "normal"), ("attn_scale", "standard")):
        if getattr(cfg, name) != default:  # so that fingerprints of existing runs do not change
            keys[name] = getattr(cfg, name)
    blob = json.dumps([dataclasses.asdict(spec), data_dir.name, keys], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _split_batch(idx: np.ndarray, rows: np.ndarray, micro: int, d: Dist, device) -> list[torch.Tensor]:
    per_rank = len(idx) // d.world
    mine = np.sort(idx[d.rank * per_rank:(d.rank + 1) * per_rank])
    data = torch.from_numpy(rows[mine].astype(np.int64))
    return [data[i:i + micro].to(device) for i in range(0, len(data), micro)]


@dataclass
class Run:
    """Everything the training loop works with, set up once by :func:`train`."""

    cfg: TrainConfig
    dist: Dist
    model: torch.nn.Module
    """What the step calls: the model, possibly compiled and wrapped in DDP."""
    raw: Llama
    """The plain model underneath (saved in checkpoints and exported)."""
    optimizer: torch.optim.Optimizer
    spec: ModelSpec
    tokenizer: object
    data_dir: Path
    """The packed data set (train and val rows)."""
    train_rows: np.ndarray
    val_rows: np.ndarray
    path: Path
    """The run directory (``cfg.out``)."""
    device: torch.device
    micro: int
    """Rows per forward pass on this process."""
    fingerprint: str
    start: int = 0
    """First step of this invocation (after a resume)."""

    @property
    def tokens_per_step(self) -> int:
        return tokens_seen(1, self.cfg.batch_size, self.spec.n_ctx)


def train(cfg: TrainConfig, *, resume: bool = False, command: str | None = None,
          stop_after: int | None = None) -> Path:
    """Train a model as configured; return the exported model directory (``OUT/model``).

    ``stop_after`` ends the loop early after that many steps of this invocation (for tests
    and time-boxed jobs); a later ``resume=True`` call continues exactly.
    """
    main = int(os.environ.get("RANK", "0")) == 0
    with claim_output(cfg.out, "training run") if main else contextlib.nullcontext():
        _check_out(Path(cfg.out).expanduser(), resume)
        run = _setup(cfg, resume)
        end = cfg.max_steps if stop_after is None else min(cfg.max_steps, run.start + stop_after)
        _loop(run, end)
        if end < cfg.max_steps:
            return run.path
        out = run.path / "model"
        if run.dist.main:
            export_model(run.raw, run.spec, run.tokenizer, out, cfg, run.path, command, read_meta(run.data_dir))
        run.dist.barrier()
        return out


def _check_out(path: Path, resume: bool) -> None:
    """--resume needs a checkpoint; without it, a folder holding a run is not started over."""
    if resume:
        require_checkpoint(path)
    elif list_checkpoints(path):
        raise ConfigError(f"{str(path)!r} already holds a training run; pass --resume to continue it "
                          "or choose another --out")


def _devices(cfg: TrainConfig) -> tuple[torch.device, Dist, int]:
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
    return device, d, micro


def _setup(cfg: TrainConfig, resume: bool) -> Run:
    """Devices, architecture, tokenizer, packed data, model and optimiser; restores a checkpoint."""
    device, d, micro = _devices(cfg)
    path = Path(cfg.out).expanduser()
    spec, init_state = resolve_spec(cfg)
    tokenizer = prepare_tokenizer(cfg, spec, path, d)
    spec = dataclasses.replace(spec, d_vocab=len(tokenizer))
    d.all_or_none(lambda: require_training_fits(spec, cfg.batch_size // d.world, micro, device),
                  device)  # before packing and allocating
    if d.main:
        pack(cfg.data, tokenizer, spec.n_ctx, limit=cfg.n_stories, val_fraction=cfg.val_fraction)
    d.barrier()
    data_dir = pack(cfg.data, tokenizer, spec.n_ctx, limit=cfg.n_stories,
                    val_fraction=cfg.val_fraction, progress=False)
    torch.manual_seed(cfg.seed)
    raw = Llama(spec, attn_scale=1.0 if cfg.attn_scale == "none" else None).to(device)
    if cfg.init == "zero-residual":
        raw.zero_residual_branches()
    if init_state is not None:
        load_standard_state(raw, init_state)
    train_rows, val_rows = load_rows(data_dir, "train"), load_rows(data_dir, "val")
    require_rows(train_rows, None, cfg.data, cfg.n_stories)
    run = Run(cfg, d, raw, raw, make_optimizer(raw, cfg), spec, tokenizer, data_dir, train_rows, val_rows, path,
              device, micro, _fingerprint(cfg, spec, data_dir))
    if resume:
        _restore(run)
    run.model = torch.compile(raw) if cfg.compile else raw
    if d.world > 1:
        run.model = torch.nn.parallel.DistributedDataParallel(run.model)
    if d.main:
        path.mkdir(parents=True, exist_ok=True)
        save_config(cfg, path / "config.yaml")
    return run


def _restore(run: Run) -> None:
    ckpt = load_latest(run.path, run.fingerprint)
    if ckpt is None:
        return
    run.raw.load_state_dict(ckpt.tensors)
    run.optimizer.load_state_dict(ckpt.state["optimizer"])
    run.start = ckpt.step
    if run.dist.main:
        truncate_log(run.path / "metrics.jsonl", ckpt.step)
    if run.start >= run.cfg.max_steps and (run.path / "model").is_dir():
        raise ConfigError(f"the run in {str(run.path)!r} already finished ({run.start} of {run.cfg.max_steps} "
                          f"steps). To train longer, start a new run from it: --init-from {run.path / 'model'} "
                          "--out NEW_DIR")


def _loop(run: Run, end: int) -> None:
    """Steps ``run.start`` .. ``end``: train, log, validate, checkpoint."""
    cfg, d = run.cfg, run.dist
    logger = _wandb(cfg) if cfg.wandb and d.main else None
    metrics = open(run.path / "metrics.jsonl", "a") if d.main else None
    bar = tqdm(total=cfg.max_steps, initial=run.start, disable=not d.main, desc="training", unit="step")
    recent, t0 = [], time.perf_counter()
    for step in range(run.start, end):
        idx = batch_indices(step, len(run.train_rows), cfg.batch_size, cfg.seed)
        batch = _split_batch(idx, run.train_rows, run.micro, d, run.device)
        recent.append(train_step(run.model, run.optimizer, batch, cfg, lr_at(step, cfg)))
        done, record = step + 1, None
        if done % cfg.log_every == 0 or done == cfg.max_steps:
            elapsed = time.perf_counter() - t0
            record = {"step": done, "loss": _mean_across(recent, d), "lr": lr_at(step, cfg),
                      "tokens_per_s": len(recent) * run.tokens_per_step / elapsed, "tokens": done * run.tokens_per_step}
            recent, t0 = [], time.perf_counter()
        if done % cfg.eval_every == 0 or done == cfg.max_steps:
            record = {**(record or {"step": done}), "val_loss": evaluate(run.model, run.val_rows, cfg, run.micro,
                                                                        run.device, d)}
        if record and d.main:
            _log(record, metrics, bar, logger)
        if d.main and (done % cfg.checkpoint_every == 0 or done in (cfg.max_steps, end)):
            save_checkpoint(run.path, done, run.raw.state_dict(), {"optimizer": run.optimizer.state_dict()},
                            fingerprint=run.fingerprint, info={"tokens": done * run.tokens_per_step},
                            keep=cfg.keep_checkpoints)
        bar.update(1)
    bar.close()
    if metrics:
        metrics.close()
    d.barrier()


def _log(record: dict, metrics, bar, logger) -> None:
    metrics.write(json.dumps(record) + "\n")
    metrics.flush()
    # A validation-only record (eval_every < log_every) has no training loss to show.
    bar.set_postfix({k: f"{record[k]:.3f}" for k in ("loss", "val_loss") if record.get(k) is not None})
    if logger:
        logger.log(record, step=record["step"])


def _mean_across(values: list[float], d: Dist) -> float:
    total = torch.tensor([sum(values), float(len(values))])
    if d.world > 1:
        dist.all_reduce(total)
    return (total[0] / total[1]).item()


def _wandb(cfg: TrainConfig):
    import wandb

    return wandb.init(project=cfg.wandb_project, config=dataclasses.asdict(cfg))

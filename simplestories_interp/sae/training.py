"""SAE training on SAELens (``ssi sae train``, ``ssi.train_sae``), fast, offline, measured.

SAELens provides the SAE classes and the training step (``SAETrainer.step``); we provide the
rest: activations from our store (or generated on the fly, in bounded memory; several SAEs
can share one pass, :func:`train_saes`), the metrics
SAELens computes only with wandb on (:mod:`.metrics`, logged to ``metrics.jsonl`` and
summarised in ``metrics.json``), atomic checkpoints and resume, and provenance. The result is
a directory in SAELens's format, so ``sae_lens.SAE.load_from_disk(DIR)`` loads it.

Training from a store is fast because no language model runs during training and because
TopK/BatchTopK SAEs take the sparse training step of :mod:`.sparse_step` (SAELens's loss and
gradients, computed without the dense top-k and dense decoder): each step is one batch read
from the shards and one sparse SAE step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sae_lens import SAE, SAETrainer, TrainingSAE
from sae_lens.config import LoggingConfig, SAETrainerConfig
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import parse_hooks
from simplestories_interp.checkpoints import load_latest, require_checkpoint, save_checkpoint, truncate_log
from simplestories_interp.data.rows import row_array
from simplestories_interp.devices import pick_device
from simplestories_interp.errors import ConfigError, CorruptFileError, MissingDirectoryError, did_you_mean
from simplestories_interp.files import atomic_write_text, claim_output, file_mode, readable
from simplestories_interp.memory import require_saes_fit
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.data import hook_width, sae_batches
from simplestories_interp.sae.metrics import evaluate_sae, reconstruction
from simplestories_interp.sae.sparse_step import make_training_sae

PROVENANCE = "ssi_sae.json"


def make_sae(cfg: SAEConfig, d_in: int, metadata: dict) -> TrainingSAE:
    """A SAELens training SAE of the configured architecture and size."""
    d_sae = cfg.d_sae or cfg.expansion * d_in
    if cfg.arch in ("topk", "batchtopk") and cfg.k >= d_sae:
        raise ConfigError(f"k ({cfg.k}) must be smaller than d_sae ({d_sae})")
    arch = {"d_in": d_in, "d_sae": d_sae, "architecture": cfg.arch, "device": "cpu", "dtype": "float32",
            "metadata": metadata}
    arch.update({"topk": {"k": cfg.k}, "batchtopk": {"k": cfg.k}, "standard": {"l1_coefficient": cfg.l1},
                 "jumprelu": {"l0_coefficient": cfg.l1}}[cfg.arch])
    torch.manual_seed(cfg.seed)
    return make_training_sae(arch, sparse=cfg.sparse)


def _fingerprint(cfg: SAEConfig) -> str:
    keys = ("model", "hook", "arch", "d_sae", "expansion", "k", "l1", "tokens", "lr", "batch_size", "seed", "store",
            "dead_tokens")
    values = [getattr(cfg, k) for k in keys] + ([cfg.context] if cfg.context is not None else [])  # older runs resume
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def _save_checkpoint(out: Path, trainer: SAETrainer, cfg: SAEConfig) -> None:
    state = {"optimizer": trainer.optimizer.state_dict(), "lr_scheduler": trainer.lr_scheduler.state_dict(),
             "act_freq_scores": trainer.act_freq_scores,
             "n_forward_passes_since_fired": trainer.n_forward_passes_since_fired,
             "coefficient_schedulers": {n: s.state_dict() for n, s in trainer.coefficient_schedulers.items()}}
    counters = {"n_training_samples": trainer.n_training_samples,
                "n_frac_active_samples": trainer.n_frac_active_samples}
    save_checkpoint(out, trainer.n_training_steps, trainer.sae.state_dict(), state, fingerprint=_fingerprint(cfg),
                    info=counters, keep=1)


def _load_checkpoint(out: Path, trainer: SAETrainer, cfg: SAEConfig) -> None:
    ckpt = load_latest(out, _fingerprint(cfg))
    if ckpt is None:
        return
    trainer.sae.load_state_dict(ckpt.tensors)
    trainer.optimizer.load_state_dict(ckpt.state["optimizer"])
    trainer.lr_scheduler.load_state_dict(ckpt.state["lr_scheduler"])
    trainer.act_freq_scores = ckpt.state["act_freq_scores"]
    trainer.n_forward_passes_since_fired = ckpt.state["n_forward_passes_since_fired"]
    for name, sd in ckpt.state["coefficient_schedulers"].items():
        trainer.coefficient_schedulers[name].load_state_dict(sd)
    trainer.n_training_steps = ckpt.step
    trainer.n_training_samples = ckpt.info["n_training_samples"]
    trainer.n_frac_active_samples = ckpt.info["n_frac_active_samples"]


def eval_rows(model: HookedTransformer, cfg: SAEConfig) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows for the spliced metrics, and the larger sample for firing (dead/dense)."""
    spliced = row_array(cfg.eval_data, model.tokenizer, model.cfg.n_ctx, limit=cfg.eval_stories)
    if len(spliced) == 0:
        raise ConfigError(f"{cfg.eval_stories} stories of {cfg.eval_data!r} fill no row of n_ctx={model.cfg.n_ctx}")
    # The density sample starts with the same stories (a deterministic source) and goes on.
    if cfg.density_stories <= cfg.eval_stories:
        return spliced, spliced
    return spliced, row_array(cfg.eval_data, model.tokenizer, model.cfg.n_ctx, limit=cfg.density_stories)


SHARED = ("model", "store", "data", "batch_size", "tokens", "seed", "device", "eval_data", "eval_stories",
          "density_stories")


def train_sae(cfg: SAEConfig | None = None, model: HookedTransformer | str | None = None, **settings) -> Path:
    """Train an SAE as configured; return its directory (SAELens format + our metrics).

    ``settings`` are SAEConfig fields, applied over ``cfg``:
    ``ssi.train_sae(model="SynthStories-1.25M", hook="blocks.1.hook_resid_post", store="acts/", k=32)``.
    ``model`` is a model name (the config's ``model``) or an already loaded HookedTransformer,
    which is then used as is (and recorded under its own name unless ``cfg.model`` says otherwise).
    """
    names = [f.name for f in dataclasses.fields(SAEConfig)]
    for key in settings:
        if key not in names:
            raise ConfigError(f"train_sae has no setting {key!r}{did_you_mean(key, names)}")
    if isinstance(model, str):
        settings["model"], model = model, None
    elif model is not None and cfg is None:
        settings.setdefault("model", model.cfg.model_name)
    cfg = dataclasses.replace(cfg or SAEConfig(), **settings)
    return train_saes([cfg], model)[0]


def train_saes(cfgs: Sequence[SAEConfig], model: HookedTransformer | None = None) -> list[Path]:
    """Train several SAEs in one pass over the activations (``ssi sae sweep``); return their directories.

    The runs may differ in hook, architecture, size, k, sparsity coefficient and lr; they share
    the model, the data (store or source), batch size, tokens and seed, so each batch is read
    (or made) once and every SAE takes one step on it.
    """
    from simplestories_interp.zoo.loading import load_model

    if not cfgs:
        raise ConfigError("no SAE to train: give at least one configuration")
    for key in SHARED:
        if len({json.dumps(getattr(c, key)) for c in cfgs}) > 1:
            raise ConfigError(f"SAEs trained in one pass share {key!r}; got {[getattr(c, key) for c in cfgs]}")
    if len({c.out for c in cfgs}) < len(cfgs):
        raise ConfigError(f"each SAE needs its own --out; got {[c.out for c in cfgs]}")
    first = cfgs[0]
    with ExitStack() as claims:
        for cfg in cfgs:  # before any heavy work: a bad or busy --out fails fast
            claims.enter_context(claim_output(cfg.out, "SAE"))
        device = pick_device(first.device)
        model = model or load_model(first.model, device=device)
        hooks = list(dict.fromkeys(parse_hooks(model, [c.hook for c in cfgs])))
        batches, widths, provenance = sae_batches(first, model, hooks)
        require_saes_fit([(widths[c.hook], c.d_sae or c.expansion * widths[c.hook]) for c in cfgs], first.batch_size,
                         device)
        runs = [_start(cfg, widths[cfg.hook], model, device) for cfg in cfgs]
        held_out = eval_rows(model, first)
        _loop(runs, batches, first.tokens // first.batch_size)
        return [_finish(run, model, held_out, provenance, device) for run in runs]


@dataclass
class _Run:
    """One SAE being trained: its config, SAELens trainer and directory."""

    cfg: SAEConfig
    trainer: SAETrainer
    out: Path
    wandb: Any = None
    """A wandb run when --wandb is on (SAELens's trainer logs only inside its own fit loop)."""


def _start(cfg: SAEConfig, d_in: int, model: HookedTransformer, device: torch.device) -> _Run:
    out = Path(cfg.out)
    done = (out / "cfg.json").is_file() and (out / PROVENANCE).is_file()
    if done and cfg.resume:
        raise ConfigError(f"the SAE run in {str(out)!r} already finished; use another --out")
    if (out / "checkpoints").is_dir() and not cfg.resume:
        raise ConfigError(f"{str(out)!r} holds an SAE run; pass --resume to continue it or use another --out")
    metadata = {"model_name": cfg.model, "hook_name": cfg.hook, "context_size": model.cfg.n_ctx, "prepend_bos": True}
    sae = make_sae(cfg, d_in, metadata)
    trainer = SAETrainer(cfg=SAETrainerConfig(
        total_training_samples=cfg.tokens, train_batch_size_samples=cfg.batch_size, lr=cfg.lr, lr_end=cfg.lr / 10,
        lr_warm_up_steps=min(100, max(1, cfg.tokens // cfg.batch_size // 20)), device=str(device),
        dead_feature_window=max(1, cfg.dead_tokens // cfg.batch_size),
        logger=LoggingConfig(log_to_wandb=cfg.wandb)), sae=sae, data_provider=iter(()))
    sae.to(device)
    if cfg.resume:
        require_checkpoint(out)
        _load_checkpoint(out, trainer, cfg)
        truncate_log(out / "metrics.jsonl", trainer.n_training_steps)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, trainer, out)
    if cfg.wandb:
        import wandb

        run.wandb = wandb.init(project="ssi-sae", name=out.name, config=dataclasses.asdict(cfg), reinit="create_new")
    return run


def _loop(runs: list[_Run], batches: Iterator[dict[str, torch.Tensor]], steps: int) -> None:
    """Step every run on each batch; a resumed run skips the batches it already used."""
    probe = next(batches)  # a fixed batch for the training-time reconstruction metrics
    first = min(run.trainer.n_training_steps for run in runs)
    for _ in range(first):
        next(batches)
    with ExitStack() as stack:
        logs = [stack.enter_context(open(run.out / "metrics.jsonl", "a")) for run in runs]
        for step in tqdm(range(first, steps), initial=first, total=steps, unit="step",
                         desc="training SAE" if len(runs) == 1 else f"training {len(runs)} SAEs"):
            batch = next(batches)
            for run, log in zip(runs, logs, strict=True):
                if run.trainer.n_training_steps == step:
                    _step(run, batch[run.cfg.hook], probe[run.cfg.hook], log, steps)


def _step(run: _Run, batch: torch.Tensor, probe: torch.Tensor, log, steps: int) -> None:
    trainer, cfg = run.trainer, run.cfg
    trainer.maybe_reset_sparsity()
    output = trainer.step(batch)
    trainer.n_training_steps += 1
    done = trainer.n_training_steps
    if done % cfg.log_every == 0 or done == steps:
        rec = reconstruction(trainer.sae, probe.to(trainer.sae.device))
        record = {"step": done, "tokens": trainer.n_training_samples, "loss": output.loss.item(), "l0": rec["l0"],
                  "explained_variance": rec["explained_variance"], "mse": rec["mse"],
                  "dead_fraction": float(trainer.dead_neurons.float().mean()),
                  "lr": trainer.optimizer.param_groups[0]["lr"]}
        log.write(json.dumps(record) + "\n")
        log.flush()
        if run.wandb is not None:
            run.wandb.log(record, step=done)
    if done == steps and hasattr(trainer.sae, "calibrate_threshold"):  # BatchTopK: save what was trained
        trainer.sae.calibrate_threshold(probe.to(trainer.sae.device))
    if done % cfg.checkpoint_every == 0 or done == steps:
        _save_checkpoint(run.out, trainer, cfg)


def _finish(run: _Run, model: HookedTransformer, held_out: tuple[np.ndarray, np.ndarray], provenance: dict,
            device) -> Path:
    run.trainer.set_final_sae_metadata()
    _save(run.trainer.sae, run.out, run.cfg, {**provenance, "model": run.cfg.model, "hook": run.cfg.hook,
                                              "tokens": run.trainer.n_training_samples})
    # Measure what was saved: BatchTopK is saved as a JumpReLU SAE with the learned threshold.
    metrics = evaluate_sae(model, load_sae(run.out, device=str(device)), run.cfg.hook, held_out[0],
                           density_rows=held_out[1])
    atomic_write_text(run.out / "metrics.json", json.dumps(metrics.as_dict(), indent=2))
    _warn_problems(run.out, metrics, run.cfg.k if run.cfg.arch in ("topk", "batchtopk") else None)
    if run.wandb is not None:
        run.wandb.summary.update(metrics.as_dict())
        run.wandb.finish()
    return run.out


def eval_sae(path: str | Path, model: HookedTransformer | str | None = None, *,
             eval_data: str = "synthetic:9999", eval_stories: int = 100, density_stories: int = 3000,
             device: str | None = None):
    """Recompute the metrics of a saved SAE (``ssi sae eval``).

    With the model the SAE was trained on they replace ``metrics.json``; with another model they go
    to ``metrics-<model>.json`` beside it, so the training metrics are never overwritten silently.
    """
    from simplestories_interp.zoo.loading import load_model

    path = Path(path)
    provenance = json.loads((path / PROVENANCE).read_text()) if (path / PROVENANCE).is_file() else {}
    sae = load_sae(path, device=device)
    hook = sae.cfg.metadata.hook_name or provenance.get("hook")
    recorded = provenance.get("model") or sae.cfg.metadata.model_name
    name = model.cfg.model_name if isinstance(model, HookedTransformer) else (model or recorded)
    if not isinstance(model, HookedTransformer):
        model = load_model(model or recorded, device=device)
    parse_hooks(model, [hook])
    d_in = hook_width(model, hook)
    if d_in != sae.cfg.d_in:
        raise ConfigError(f"the SAE reads d_in={sae.cfg.d_in} but {hook!r} of this model has width {d_in}: "
                          "wrong model or hook")
    rows, density = eval_rows(model, SAEConfig(eval_data=eval_data, eval_stories=eval_stories,
                                               density_stories=density_stories))
    metrics = evaluate_sae(model, sae, hook, rows, density_rows=density)
    atomic_write_text(path / metrics_file(str(name), recorded), json.dumps(metrics.as_dict(), indent=2))
    config = provenance.get("config", {})
    _warn_problems(path, metrics, config.get("k") if config.get("arch") in ("topk", "batchtopk") else None)
    return metrics


def _warn_problems(path: Path, metrics, k: int | None) -> None:
    for problem in metrics.problems(k):
        warnings.warn(f"SAE {str(path)!r}: {problem}", stacklevel=3)


def metrics_file(model_name: str, recorded: str | None) -> str:
    """Where ``eval_sae`` writes: metrics.json for the SAE's own model, metrics-<model>.json otherwise."""
    same = recorded is None or model_name == recorded or (
        Path(model_name).expanduser().resolve() == Path(str(recorded)).expanduser().resolve())
    if same:
        return "metrics.json"
    return "metrics-" + "".join(c if c.isalnum() or c in "-._" else "_" for c in Path(model_name).name) + ".json"


def _save(sae: TrainingSAE, out: Path, cfg: SAEConfig, provenance: dict) -> None:
    with tempfile.TemporaryDirectory(prefix=".sae_", dir=out) as tmp:
        sae.save_inference_model(tmp)  # then each file moves into place in one rename
        for file in Path(tmp).iterdir():
            os.chmod(file, file_mode())  # safetensors writes 0600 whatever the umask
            os.replace(file, out / file.name)
    atomic_write_text(out / PROVENANCE, json.dumps({**provenance, "config": dataclasses.asdict(cfg)}, indent=2))


def load_sae(path: str | Path, device: str | None = None) -> SAE:
    """Load an SAE directory (ours or any SAELens one) as a SAELens ``SAE``."""
    path = Path(path)
    if not (path / "cfg.json").is_file():
        raise MissingDirectoryError(f"{str(path)!r} is not an SAE directory (no cfg.json)")
    from safetensors import SafetensorError

    with readable():
        _check_sizes(path)
        try:
            return SAE.load_from_disk(str(path), device=str(pick_device(device)))
        except PermissionError:
            raise
        except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CorruptFileError(f"the SAE in {str(path)!r} cannot be read, its files are corrupt or "
                                         f"incomplete ({type(exc).__name__}: {str(exc)[:120]}); train it again "
                                         "or restore the folder") from exc


def _check_sizes(path: Path) -> None:
    """cfg.json's sizes are positive whole numbers (SAELens would fail on them deep inside torch)."""
    try:
        cfg = json.loads((path / "cfg.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{str(path / 'cfg.json')!r} is not valid JSON ({exc}); restore the file the "
                                     "SAE was saved with") from exc
    if not isinstance(cfg, dict):
        raise CorruptFileError(f"{str(path / 'cfg.json')!r} must hold a JSON object, got {type(cfg).__name__}")
    for key in ("d_in", "d_sae"):
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CorruptFileError(f"{str(path / 'cfg.json')!r}: {key} must be a positive whole number, got "
                                         f"{value!r}; restore the file the SAE was saved with")

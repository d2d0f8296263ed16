"""Refusing sizes that cannot fit in memory, before anything is allocated.

``--batch-size 1e8`` or ``--d-sae 1e8`` used to run for half a minute (tokenising, building
the model) and then end in an allocator traceback, or swap the machine to a halt. The jobs that
allocate in proportion to a user's number (training, norm removal, SAE training) first compare
a *lower bound* of what they will hold at once with the memory the device has free, and refuse
with both numbers and the fix. The bound counts only what certainly lives at the same time
(weights, gradients and Adam's two moments; one batch of tokens; the logits of one micro-batch
and their gradient; an SAE's hidden activations), so a run that fits is never refused; one that
is refused would have failed.
"""

from __future__ import annotations

import os

import torch

from simplestories_interp.errors import TooLargeError

FLOAT = 4  # bytes of a float32: parameters, optimiser moments and activations while training
TOKEN = 8  # bytes of an int64 token id (a batch is gathered as int64 before it is split)


def available_bytes(device: torch.device) -> int | None:
    """Memory the process can still allocate on ``device`` (None where it cannot be told, e.g. MPS)."""
    if device.type == "cuda":  # free on the card, plus what torch holds cached and would reuse
        free, _ = torch.cuda.mem_get_info(device)
        return int(free) + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.strip()}
        return info.get("MemAvailable", info.get("MemFree", 0)) + info.get("SwapFree", 0)
    except (OSError, ValueError, IndexError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


def gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def require_fits(need: int, device: torch.device, what: str, fix: str) -> None:
    """Raise :class:`TooLargeError` when ``need`` bytes exceed what ``device`` has free."""
    free = available_bytes(device)
    if free is not None and need > free:
        raise TooLargeError(f"{what} needs at least {gib(need)} of memory on {device.type}, but {gib(free)} is "
                            f"free; {fix}")


def training_bytes(n_params: int, d_vocab: int, n_ctx: int, batch_size: int, micro_batch_size: int,
                   held: int = 0) -> int:
    """Lower bound of a training step's memory: weights and two Adam moments (gradients are not counted:
    they may not exist yet while the logits peak); the batch's token ids; the logits of one micro-batch
    (n_ctx - 1 predicted positions) and their gradient. ``held``: bytes of these already allocated
    (a model loaded before the check), which the free memory no longer includes."""
    return (3 * n_params * FLOAT + batch_size * n_ctx * TOKEN
            + 2 * micro_batch_size * (n_ctx - 1) * d_vocab * FLOAT - held)


def require_training_fits(spec, batch_size: int, micro_batch_size: int, device: torch.device,
                          doing: str = "training", held: int = 0) -> None:
    """Refuse a model and batch that cannot fit (``spec`` is a zoo ModelSpec)."""
    need = training_bytes(spec.n_params, spec.d_vocab, spec.n_ctx, batch_size, micro_batch_size, held)
    batch_alone = training_bytes(spec.n_params, spec.d_vocab, spec.n_ctx, batch_size, 1, held)
    fix = ("lower --batch-size" if batch_alone > (available_bytes(device) or need) else
           "set a smaller --micro-batch-size (the same batch, its gradients accumulated) or lower --batch-size")
    require_fits(need, device, f"{doing} {spec.name} ({spec.n_params:,} parameters) with --batch-size "
                 f"{batch_size:,} (--micro-batch-size {micro_batch_size:,}) of {spec.n_ctx} tokens", fix)


def sae_bytes(sizes: list[tuple[int, int]], batch_size: int) -> int:
    """Lower bound of SAEs (``(d_in, d_sae)`` each) trained together, one step after another on the same
    batch: every SAE's W_enc and W_dec with gradients and two Adam moments, one batch of activations
    per hook width, and the hidden features of one SAE at a time (with their gradient)."""
    weights = sum(4 * 2 * d_in * d_sae * FLOAT for d_in, d_sae in sizes)
    batches = sum(batch_size * d_in * FLOAT for d_in in {d_in for d_in, _ in sizes})
    return weights + batches + max(batch_size * 2 * d_sae * FLOAT for _, d_sae in sizes)


def require_saes_fit(sizes: list[tuple[int, int]], batch_size: int, device: torch.device) -> None:
    """Refuse SAEs trained together (``(d_in, d_sae)`` each) that cannot fit with ``batch_size``."""
    need = sae_bytes(sizes, batch_size)
    shown = ", ".join(f"d_sae {d_sae:,} on d_in {d_in:,}" for d_in, d_sae in sizes[:3])
    require_fits(need, device, f"training {len(sizes)} SAE(s) ({shown}{', ...' if len(sizes) > 3 else ''}) with "
                 f"--batch-size {batch_size:,}", "lower --d-sae (or --expansion) or --batch-size")

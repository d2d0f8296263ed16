"""Activation batches for SAE training: from a store, or made on the fly, for one or several hooks.

Every batch is a dict ``hook -> [batch, d]`` whose rows are the same tokens for every hook, so
a sweep over hooks and hyperparameters shares one pass over the activations (the way
dictionary_learning trains sweeps). The stream is deterministic given the seed, which is what
makes a resumed run continue exactly where it stopped: it skips the batches already used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.activations import ActivationStore, model_fingerprint
from simplestories_interp.analysis.hooks import run_hooks, stop_layer
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.data.sources import Source
from simplestories_interp.errors import ConfigError, DataError
from simplestories_interp.sae.config import SAEConfig

Batch = dict[str, torch.Tensor]


def store_batches(store: ActivationStore, hooks: Sequence[str], batch_size: int, seed: int) -> Iterator[Batch]:
    """Endless shuffled batches from a store (a new shuffle each pass), aligned across hooks."""
    epoch = 0
    while True:
        # The same seed gives every hook the same shard order and permutation: aligned rows.
        streams = [store.batches(batch_size, hook, shuffle=True, seed=seed + epoch) for hook in hooks]
        for parts in zip(*streams, strict=True):
            if len(parts[0]) == batch_size:
                yield dict(zip(hooks, parts, strict=True))
        epoch += 1


def live_batches(model: HookedTransformer, hooks: Sequence[str], source: str | Source, batch_size: int, seed: int,
                 rows_per_forward: int = 16, buffer_batches: int = 8, context: int | None = None) -> Iterator[Batch]:
    """Endless batches of activations made on the fly, shuffled within a bounded buffer; the model reads
    packed rows of ``context`` tokens (default: its n_ctx)."""
    device, stop = next(model.parameters()).device, stop_layer(model, hooks)
    rng, epoch, source = torch.Generator().manual_seed(seed), 0, Source.parse(source)
    buffer: dict[str, list[torch.Tensor]] = {h: [] for h in hooks}
    while True:
        epoch_rows = iter_row_batches(source.with_seed(seed + epoch), model.tokenizer, context or model.cfg.n_ctx,
                                      rows_per_forward)
        for rows in epoch_rows:
            acts = run_hooks(model, torch.from_numpy(rows).to(device), hooks, stop)
            for h in hooks:
                buffer[h].append(acts[h].reshape(-1, acts[h].shape[-1]).float().cpu())
            if sum(len(b) for b in buffer[hooks[0]]) >= batch_size * buffer_batches:
                yield from _drain(buffer, hooks, batch_size, rng)
        epoch += 1


def _drain(buffer: dict[str, list[torch.Tensor]], hooks: Sequence[str], batch_size: int,
           rng: torch.Generator) -> Iterator[Batch]:
    """Shuffle the buffer (one permutation for all hooks), yield full batches, keep the rest."""
    acts = {h: torch.cat(buffer[h]) for h in hooks}
    n_rows = len(acts[hooks[0]])
    order = torch.randperm(n_rows, generator=rng)
    n = n_rows // batch_size * batch_size
    for h in hooks:
        acts[h] = acts[h][order]
        buffer[h] = [acts[h][n:]]
    for start in range(0, n, batch_size):
        yield {h: acts[h][start:start + batch_size] for h in hooks}


def hook_width(model: HookedTransformer, hook: str) -> int:
    """The width of a hook's activations, from one short forward pass."""
    return run_hooks(model, model.to_tokens("Once upon a time"), [hook], stop_layer(model, [hook]))[hook].shape[-1]


def sae_batches(cfg: SAEConfig, model: HookedTransformer,
                hooks: Sequence[str]) -> tuple[Iterator[Batch], dict[str, int], dict]:
    """The batch stream for ``hooks`` as ``cfg`` asks (store or on the fly), their widths, provenance."""
    if cfg.store is None:
        if cfg.context is not None and not 2 <= cfg.context <= model.cfg.n_ctx:
            raise ConfigError(f"--context must be between 2 and the model's n_ctx ({model.cfg.n_ctx}), "
                              f"got {cfg.context}")
        return (live_batches(model, hooks, cfg.data, cfg.batch_size, cfg.seed, context=cfg.context),
                {h: hook_width(model, h) for h in hooks},
                {"data": cfg.data, "context": cfg.context or model.cfg.n_ctx})
    store = ActivationStore(cfg.store)
    if store.incomplete():
        raise DataError(store.incomplete() + "; then train the SAE")
    if store.manifest.model_fingerprint != model_fingerprint(model):
        raise ConfigError(f"store {cfg.store!r} was written by model {store.manifest.model!r} with other "
                          f"weights than {cfg.model!r}; cache activations of this model first (ssi cache)")
    for hook in hooks:
        if hook not in store.hooks:
            raise ConfigError(f"store {cfg.store!r} holds {store.hooks}, not {hook!r}; cache that hook or "
                              "pass --hook with one of those")
    if cfg.batch_size > store.n_tokens:  # store_batches would wait for a full batch forever
        raise ConfigError(f"--batch-size ({cfg.batch_size}) is larger than the store {cfg.store!r} "
                          f"({store.n_tokens:,} tokens); lower --batch-size or cache more stories")
    return (store_batches(store, hooks, cfg.batch_size, cfg.seed), {h: store.d(h) for h in hooks},
            {"store": str(cfg.store), "data": store.manifest.source, "store_tokens": store.n_tokens})

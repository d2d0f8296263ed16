"""``ssi explore``: load the model and the SAEs, check them, and start the server."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from simplestories_interp.analysis.hooks import parse_hooks
from simplestories_interp.data.packing import cache_root
from simplestories_interp.data.sources import iter_stories
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.explore.components import SAEHandle
from simplestories_interp.explore.config import ExploreConfig
from simplestories_interp.explore.corpus_views import CorpusViews
from simplestories_interp.explore.engine import Explorer
from simplestories_interp.explore.server import serve
from simplestories_interp.sae.training import PROVENANCE, load_sae
from simplestories_interp.zoo.loading import load_model, require_loadable

_SAE_HOOKS = ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out", "mlp.hook_post")


def load_saes(model, paths: list[str], device) -> list[SAEHandle]:
    """The ``--sae`` folders, each at the hook it was trained on (which must be on this model)."""
    handles = []
    for path in paths:
        sae = load_sae(path, device=str(device))
        provenance = Path(path) / PROVENANCE
        hook = sae.cfg.metadata.hook_name or (json.loads(provenance.read_text()).get("hook")
                                              if provenance.is_file() else None)
        if not hook or not hook.endswith(_SAE_HOOKS):
            raise InvalidArgumentError(f"SAE {path!r} reads {hook!r}; the explorer attributes to SAEs on the residual "
                                       "stream, attention or MLP outputs, or MLP neurons")
        (hook,) = parse_hooks(model, [hook])
        width = model.cfg.d_mlp if hook.endswith("mlp.hook_post") else model.cfg.d_model
        if sae.W_dec.shape[1] != width:
            raise InvalidArgumentError(f"SAE {path!r} has d_in {sae.W_dec.shape[1]}, but {hook} of this model has "
                                       f"width {width}: it was trained on another model")
        handles.append(SAEHandle(str(path), hook, sae))
    return handles


def build_explorer(cfg: ExploreConfig) -> Explorer:
    """The model, its SAEs and the corpus views, every input checked before the server starts."""
    require_loadable(cfg.model)
    next(iter_stories(cfg.data, limit=1), None)  # a bad --data fails now, not on the first component page
    model = load_model(cfg.model, device=cfg.device)
    saes = load_saes(model, cfg.sae or [], next(model.parameters()).device)
    views = CorpusViews(model, saes, cfg.data, cfg.n_stories, Path(cfg.cache) if cfg.cache else cache_root())
    return Explorer(model, saes, views, cfg.model, default_mode=cfg.ablation)


def explore(cfg: ExploreConfig) -> None:
    """Start the explorer and serve until Ctrl-C (the normal way to stop a server: exit status 0)."""
    explorer = build_explorer(cfg)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down gracefully, then re-raises the signal
        serve(explorer, cfg.host, cfg.port)
    print("ssi explore: stopped", flush=True)

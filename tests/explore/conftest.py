"""A tiny explorer (random 2-layer model, a random SAE, a small corpus) shared by the explorer tests."""

import dataclasses

import pytest
import torch

from simplestories_interp.explore.components import SAEHandle
from simplestories_interp.explore.corpus_views import CorpusViews
from simplestories_interp.explore.engine import Explorer
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.training import make_sae
from simplestories_interp.zoo.loading import build_model

HOOK = "blocks.0.hook_resid_post"


def make_explorer(model, tmp_path, *, with_sae: bool = True) -> Explorer:
    saes = []
    if with_sae:
        torch.manual_seed(0)
        sae = make_sae(SAEConfig(hook=HOOK, d_sae=64, k=8, device="cpu"), model.cfg.d_model, {"hook_name": HOOK})
        saes = [SAEHandle("tiny-sae", HOOK, sae)]
    views = CorpusViews(model, saes, "synthetic:2023", 6, tmp_path / "cache")
    return Explorer(model, saes, views, "tiny")


@pytest.fixture
def explorer(tiny_model, tmp_path):
    return make_explorer(tiny_model, tmp_path)


@pytest.fixture(scope="module")
def norm_free_model(tiny_model):
    spec = dataclasses.replace(tiny_model.ssi_spec, normalization="none")
    torch.manual_seed(3)
    return build_model(spec, None, tiny_model.tokenizer, device="cpu")

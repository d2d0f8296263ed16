"""Linear probes recover labels that are linearly present, and stay near chance on noise."""

import numpy as np
import pytest
import torch

from simplestories_interp.analysis.probes import (
    probe_roles,
    probe_story_label,
    residual_hooks,
    residuals,
    split_stories,
    story_means,
)
from simplestories_interp.data.rows import build_rows
from simplestories_interp.errors import ConfigError


@pytest.fixture(scope="module")
def rows(synth_tokenizer):
    return build_rows("synthetic:7", synth_tokenizer, n_ctx=64, n_stories=60)


def _planted_label(rows, label: str, noise: float, seed: int = 0) -> torch.Tensor:
    """Per token: the one-hot of its story's label in the first dimensions, plus Gaussian noise."""
    values = sorted({r[label] for r in rows.records})
    onehot = np.eye(len(values), 16)[[values.index(r[label]) for r in rows.records]]
    x = onehot[rows.story.ravel()] + noise * np.random.default_rng(seed).normal(size=(rows.story.size, 16))
    return torch.tensor(x, dtype=torch.float32)


def test_split_is_by_story_and_seeded():
    a, b = split_stories(100, seed=3), split_stories(100, seed=3)
    assert (a == b).all() and a.sum() == 30
    assert not (a == split_stories(100, seed=4)).all()


def test_story_means_average_each_story():
    acts = torch.tensor([[1.0], [3.0], [10.0]])
    assert story_means(acts, np.array([0, 0, 2]), 3).flatten().tolist() == [2.0, 0.0, 10.0]


def test_a_linearly_planted_label_is_recovered_and_noise_is_not(rows):
    held_out = split_stories(len(rows.stories))
    clean = probe_story_label(_planted_label(rows, "theme", 0.1), rows, "theme", held_out)
    assert clean.accuracy == 1.0 and clean.majority < 0.6 and clean.classes > 2
    noise = probe_story_label(torch.randn(rows.story.size, 16), rows, "theme", held_out)
    assert noise.accuracy < 0.7


def test_role_probe_finds_planted_roles_and_reports_base_rates(rows):
    roles = ["name_first", "article", "verb"]
    masks = rows.roles()
    x = np.stack([masks[r].ravel() for r in roles], 1).astype(np.float32)
    x = np.concatenate([x, np.random.default_rng(0).normal(size=(len(x), 5))], 1)
    result = probe_roles(torch.tensor(x), rows, roles, split_stories(len(rows.stories)))
    assert all(result[r]["f1"] > 0.99 for r in roles)
    assert 0 < result["article"]["base_rate"] < 0.3
    noise = probe_roles(torch.randn(len(x), 8), rows, roles, split_stories(len(rows.stories)))
    assert noise["name_first"]["f1"] < 0.5
    with pytest.raises(ConfigError, match="no tokens with role"):
        probe_roles(torch.tensor(x), rows, ["dragon"], split_stories(len(rows.stories)))


def test_residuals_read_every_layer(tiny_model, rows):
    acts = residuals(tiny_model, rows, batch_size=16)
    assert list(acts) == residual_hooks(tiny_model)
    assert len(acts) == tiny_model.cfg.n_layers + 1
    assert all(a.shape == (rows.tokens.size, tiny_model.cfg.d_model) for a in acts.values())

"""Neurons vs a random orthogonal basis: the rotation, the scan in the rotated basis, the summaries."""

import torch

from simplestories_interp.analysis.basis_control import compare_bases, random_rotation, summarise
from simplestories_interp.analysis.neurons import Explanation
from simplestories_interp.data.rows import TOKEN_IDENTITY_ROLES, build_rows


def test_random_rotation_is_orthogonal_and_seeded():
    r = random_rotation(48, seed=3)
    assert torch.allclose(r @ r.T, torch.eye(48), atol=1e-5)
    assert torch.equal(r, random_rotation(48, seed=3)) and not torch.equal(r, random_rotation(48, seed=4))


def test_summarise_counts_units_above_threshold():
    ex = [Explanation(0, "name_first", 0.9, 0.02), Explanation(1, "verb", 0.5, 0.1), Explanation(2, None, 0.0, 0.0),
          Explanation(3, "name_first", 0.85, 0.02)]
    s = summarise(ex, threshold=0.8)
    assert s.units_above == 2 and s.share_above == 0.5 and s.by_role == {"name_first": 2}
    assert abs(s.mean_precision - (0.9 + 0.5 + 0.85) / 4) < 1e-9 and s.precisions[2] == 0.0


def test_compare_bases_scans_the_rotated_activations(tiny_model):
    rows = build_rows("synthetic", tiny_model.tokenizer, 64, 6)
    c = compare_bases(tiny_model, 1, rows, k=5, seed=1)
    assert c.hook == "blocks.1.mlp.hook_post" and not set(c.semantic_roles) & TOKEN_IDENTITY_ROLES
    assert "name_first" in c.semantic_roles
    _, cache = tiny_model.run_with_cache(torch.from_numpy(rows.tokens), names_filter=c.hook)
    acts = cache[c.hook].reshape(-1, tiny_model.cfg.d_mlp)
    # The neuron scan's top value is the neuron's max; the random basis is the same acts rotated.
    assert torch.allclose(c.top.values[:, 0], acts.max(0).values, atol=1e-5)
    d = c.as_dict()
    assert len(d["random"]["semantic"]["precisions"]) == tiny_model.cfg.d_mlp
    for group in ("token", "semantic"):
        assert 0 <= d["neurons"][group]["mean_precision"] <= 1 and 0 <= d["random"][group]["share_above"] <= 1
    assert "precisions" not in c.as_dict(distributions=False)["neurons"]["token"]

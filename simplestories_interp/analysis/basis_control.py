"""Are MLP neurons more interpretable than random directions of the same layer?

The TinyStories paper (Eldan & Li 2023, Sec. 5.2) shows neurons of small models with clear roles
(one fires on the protagonist's name, another on adjectives). That claim is comparative: an
elementwise nonlinearity makes the neuron basis *privileged*, so neurons should be more
interpretable than arbitrary directions of the same space. This module measures it: the same
activations (``blocks.L.mlp.hook_post``) are scanned in the neuron basis and in a random
orthogonal basis of the same layer (Haar-distributed rotation, fixed seed), with the same top-k
and the same roles, and the role precision of both bases is summarised per layer.

Roles are split in two groups, each unit getting its best role *within* each group:
token-identity roles (articles, prepositions, conjunctions, punctuation, [EOS]: a lookup of the
word itself, which a layer that sees the token embedding makes easy to find in any basis) and
semantic roles (everything else: names, objects, places, actions, speakers, ...; on text
without annotations there are none, and the semantic columns say so).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.neurons import Explanation, TopK, count_roles, explain, scan
from simplestories_interp.data.rows import TOKEN_IDENTITY_ROLES, Rows


def random_rotation(d: int, seed: int = 0) -> Float[Tensor, "d d"]:
    """A Haar-random orthogonal matrix (QR of a Gaussian with the sign fix of Mezzadri 2007)."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


@dataclass
class GroupSummary:
    """Role precision of one basis for one group of roles (token identity or semantic)."""

    mean_precision: float
    """Mean over units of the best role's precision among the unit's top-k tokens."""
    share_above: float
    """Share of units whose best role has precision >= the threshold."""
    units_above: int
    by_role: dict[str, int]
    """How many units pass the threshold, per role."""
    precisions: list[float]
    """Every unit's best precision (for the distribution figure)."""


def summarise(explanations: list[Explanation], threshold: float) -> GroupSummary:
    precision = np.array([e.precision if e.role else 0.0 for e in explanations])
    above = [e for e in explanations if e.role and e.precision >= threshold]
    return GroupSummary(float(precision.mean()) if len(precision) else 0.0,
                        len(above) / max(len(explanations), 1), len(above), count_roles(e.role for e in above),
                        [round(float(p), 4) for p in precision])


@dataclass
class LayerComparison:
    """Neurons vs a random orthogonal basis at one hook."""

    hook: str
    k: int
    threshold: float
    seed: int
    semantic_roles: list[str]
    neurons: dict[str, GroupSummary]
    """"token" and "semantic" group summaries of the neuron basis."""
    random: dict[str, GroupSummary]
    """The same for the random basis."""
    neuron_explanations: list[Explanation]
    """The neuron basis's best role per unit over all roles (as in the neuron figure)."""
    top: TopK
    """The neuron-basis scan (for views)."""

    def as_dict(self, distributions: bool = True) -> dict:
        def group(g: GroupSummary) -> dict:
            d = asdict(g)
            return d if distributions else {k: v for k, v in d.items() if k != "precisions"}

        return {"hook": self.hook, "k": self.k, "threshold": self.threshold, "seed": self.seed,
                "semantic_roles": self.semantic_roles,
                "neurons": {n: group(g) for n, g in self.neurons.items()},
                "random": {n: group(g) for n, g in self.random.items()}}


def _groups(top: TopK, semantic: list[str], threshold: float) -> dict[str, GroupSummary]:
    return {"token": summarise(explain(top, only=TOKEN_IDENTITY_ROLES, prefer_shown=False), threshold),
            "semantic": summarise(explain(top, only=semantic, prefer_shown=False), threshold)}


def compare_bases(model: HookedTransformer, layer: int, rows: Rows, *, k: int = 20, threshold: float = 0.8,
                  seed: int = 0, batch_size: int = 8) -> LayerComparison:
    """Role precision of the neurons of ``blocks.{layer}.mlp.hook_post`` vs a random orthogonal basis."""
    hook = f"blocks.{layer}.mlp.hook_post"
    rotation = random_rotation(model.cfg.d_mlp, seed)
    neurons = scan(model, hook, rows=rows, k=k, batch_size=batch_size)
    rotated = scan(model, hook, rows=rows, k=k, batch_size=batch_size,
                   transform=lambda acts: acts.float() @ rotation.to(acts.device))
    semantic = rows.semantic_roles()
    return LayerComparison(hook, k, threshold, seed, semantic, _groups(neurons, semantic, threshold),
                           _groups(rotated, semantic, threshold), explain(neurons), neurons)

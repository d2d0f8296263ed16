"""SAE metrics by position bucket against a direct computation, and the late-feature criteria."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.sae.config import SAEConfig
from simplestories_interp.sae.metrics import ce_loss_score, explained_variance
from simplestories_interp.sae.position_metrics import (
    BucketSums,
    evaluate_by_position,
    late_features,
    max_decoder_cosine,
)
from simplestories_interp.sae.training import make_sae
from simplestories_interp.training.model import next_token_loss

HOOK = "blocks.1.hook_resid_pre"
BUCKETS = ((0, 8), (8, 24), (24, 64))


def _direct(model, sae, tokens, lo, hi):
    """The bucket's metrics computed the plain way: slice the positions, then use the metric definitions."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=HOOK)
        x = cache[HOOK][:, lo:hi].reshape(-1, cache[HOOK].shape[-1])
        feats = sae.encode(x)
        splice = lambda a, hook: sae.decode(sae.encode(a.reshape(-1, a.shape[-1]))).reshape(a.shape)  # noqa: E731
        zero = lambda a, hook: torch.zeros_like(a)  # noqa: E731
        logits = {"clean": model(tokens), "sae": model.run_with_hooks(tokens, fwd_hooks=[(HOOK, splice)]),
                  "zero": model.run_with_hooks(tokens, fwd_hooks=[(HOOK, zero)])}
    hi_pred = min(hi, tokens.shape[1] - 1)  # the last position predicts nothing
    ce = {k: next_token_loss(v, tokens, reduction="none")[:, lo:hi_pred].mean().item() for k, v in logits.items()}
    logp = {k: F.log_softmax(v[:, lo:hi_pred].float(), -1) for k, v in logits.items()}
    kl = (logp["clean"].exp() * (logp["clean"] - logp["sae"])).sum(-1).mean().item()
    return {"explained_variance": explained_variance(x, sae.decode(feats)),
            "l0": (feats != 0).sum(-1).float().mean().item(),
            "dead_fraction": ((feats != 0).sum(0) == 0).float().mean().item(), "ce_clean": ce["clean"],
            "ce_sae": ce["sae"], "ce_zero": ce["zero"], "kl_sae": kl,
            "ce_loss_score": ce_loss_score(ce["clean"], ce["sae"], ce["zero"])}


def test_bucket_metrics_equal_the_direct_computation(tiny_model):
    sae = make_sae(SAEConfig(arch="topk", d_sae=64, k=4, seed=3), 32, {})
    torch.manual_seed(0)
    tokens = torch.randint(0, 600, (5, 64))
    metrics, sums = evaluate_by_position(tiny_model, sae, HOOK, tokens, BUCKETS, batch_size=2)
    assert [m["positions"] for m in metrics] == ["0-7", "8-23", "24-63"]
    assert [m["tokens"] for m in metrics] == [5 * 8, 5 * 16, 5 * 40]
    for m, (lo, hi) in zip(metrics, BUCKETS, strict=True):
        want = _direct(tiny_model, sae, tokens, lo, hi)
        for key, value in want.items():
            assert m[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    assert sums.fires.sum().item() == pytest.approx(sum(m["l0"] * m["tokens"] for m in metrics))


class _Identity:
    W_dec = torch.eye(32)

    def encode(self, x):
        return x

    def decode(self, f):
        return f


def test_a_perfect_sae_scores_one_everywhere(tiny_model):
    tokens = torch.randint(0, 600, (2, 64))
    metrics, _ = evaluate_by_position(tiny_model, _Identity(), HOOK, tokens, BUCKETS)
    for m in metrics:
        assert m["explained_variance"] == pytest.approx(1.0, abs=1e-5)
        assert m["ce_loss_score"] == pytest.approx(1.0, abs=1e-4) and m["kl_sae"] == pytest.approx(0.0, abs=1e-5)


def _sums(mass_early, mass_late, fires_early, fires_late) -> BucketSums:
    sums = BucketSums.zeros(2, 4, len(mass_early))
    sums.n[:] = torch.tensor([100.0, 300.0])
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    sums.mass[0], sums.mass[1] = t(mass_early), t(mass_late)
    sums.fires[0], sums.fires[1] = t(fires_early), t(fires_late)
    return sums


def test_late_features_by_hand():
    # Per token: f0 never fires early (share 1.0); f1 is even (1/100 vs 3/300: share 0.5);
    # f2 is late but fires only 5 times late (too rare); f3 has share 0.9 exactly (1/100 vs 27/300).
    sums = _sums([0, 1, 0, 1], [30, 3, 5, 27], [0, 1, 0, 1], [30, 3, 5, 27])
    late = late_features(sums, ((0, 128), (128, 512)), boundary=128, min_share=0.9, min_fires=20)
    assert [f["feature"] for f in late] == [0, 3]
    assert late[0]["late_share"] == 1.0 and late[1]["late_share"] == pytest.approx(0.9)
    assert late[0]["early_density"] == 0 and late[0]["late_density"] == pytest.approx(0.1)
    with pytest.raises(InvalidArgumentError, match="bucket"):
        late_features(sums, ((0, 128), (128, 512)), boundary=100)


def test_max_decoder_cosine():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert max_decoder_cosine(a, b).tolist() == pytest.approx([1.0, np.sqrt(0.5)])

"""The sparse TopK/BatchTopK step computes SAELens's loss and gradients exactly."""

import pytest
import torch
from sae_lens import TrainingSAE
from sae_lens.saes.sae import TrainStepInput

from simplestories_interp.sae.sparse_step import batch_topk_indices, make_training_sae


def _pair(arch: str, rescale: bool, seed: int = 0):
    cfg = {"d_in": 16, "d_sae": 96, "architecture": arch, "k": 4, "device": "cpu", "dtype": "float32",
           "rescale_acts_by_decoder_norm": rescale}
    torch.manual_seed(seed)
    ref = TrainingSAE.from_dict(cfg)
    with torch.no_grad():  # move away from the symmetric initialisation so every term matters
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    fast = make_training_sae(cfg)
    fast.load_state_dict(ref.state_dict())
    assert type(fast) is not type(ref) and isinstance(fast, type(ref))
    return ref, fast


def _step(sae, x, dead):
    sae.zero_grad()
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, dead_neuron_mask=dead, coefficients={},
                                                   n_training_steps=0, is_logging_step=False))
    out.loss.backward()
    return out, {n: p.grad.clone() for n, p in sae.named_parameters()}


@pytest.mark.parametrize("arch", ["topk", "batchtopk"])
@pytest.mark.parametrize("rescale", [True, False])
@pytest.mark.parametrize("n_dead", [0, 5, 40])
def test_sparse_step_matches_saelens(arch, rescale, n_dead):
    ref, fast = _pair(arch, rescale)
    x = torch.randn(128, 16) * 3 + 1
    dead = torch.zeros(96, dtype=torch.bool)
    dead[torch.randperm(96)[:n_dead]] = True
    out_ref, grads_ref = _step(ref, x, dead)
    out_fast, grads_fast = _step(fast, x, dead)
    assert set(out_fast.losses) == set(out_ref.losses)
    for name in out_ref.losses:
        torch.testing.assert_close(out_fast.losses[name], out_ref.losses[name], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out_fast.sae_out, out_ref.sae_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out_fast.feature_acts.to_dense(), out_ref.feature_acts, rtol=1e-5, atol=1e-6)
    for name, grad in grads_ref.items():
        torch.testing.assert_close(grads_fast[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    if arch == "batchtopk":
        torch.testing.assert_close(fast.topk_threshold, ref.topk_threshold)


def test_batch_topk_indices_exact_for_any_guess():
    torch.manual_seed(1)
    h = torch.randn(64, 50)
    want = h.reshape(-1).topk(200).indices.sort().values
    for guess in (0.0, 0.5, 1.0, 2.5, 100.0):
        assert torch.equal(batch_topk_indices(h, 200, guess), want)
    # fewer positive values than asked for: all of them
    assert torch.equal(batch_topk_indices(-h.abs(), 10, 0.3), torch.empty(0, dtype=torch.long))

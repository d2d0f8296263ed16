"""A sparse training step for TopK and BatchTopK SAEs: SAELens's maths, without its dense work.

SAELens's ``TopKTrainingSAE``/``BatchTopKTrainingSAE`` compute the training step densely: the
batch top-k is one ``torch.topk`` over all ``batch x d_sae`` pre-activations, the decoder is a
dense ``[batch, d_sae] @ W_dec`` although only ``k`` of ``d_sae`` activations per token are
non-zero, and every backward pass is dense too. On a CPU that is ~0.4 s per 4096-token step
for d_sae = 2048, most of it in the top-k and in multiplying zeros.

The subclasses here keep SAELens's classes, configs, initialisation, trainer, threshold
update and saved format (BatchTopK still saves as a JumpReLU SAE), and override only
``training_forward_pass`` with the same loss computed sparsely:

* the encoder runs once, densely, without autograd (the one unavoidable matmul);
* the batch top-k is found among candidates above a running guess of the threshold (exact:
  it falls back to all positive pre-activations when the guess is too high);
* the selected pre-activations carry gradients through :class:`_SelectedPre`, whose backward
  is two ``embedding_bag`` segment sums instead of dense matmuls;
* the decoder is an ``embedding_bag`` over the chosen decoder rows, and so is the dead-feature
  auxiliary loss, unless every dead feature takes part in it (then it is a small dense matmul).

``tests/sae/test_sparse_step.py`` checks loss and every parameter gradient against SAELens's own
dense step; ``benchmarks/sae_bench.py`` measures the speed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from sae_lens import TrainingSAE
from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE
from sae_lens.saes.sae import TrainStepInput, TrainStepOutput
from sae_lens.saes.topk_sae import TopKTrainingSAE
from torch import Tensor

# The running guess sits this far below the last exact threshold, so that nearly every step
# finds enough candidates above it (a miss only costs one slower, still exact, step).
GUESS_MARGIN = 0.8


def _offsets(segment: Int[Tensor, " nnz"], n: int) -> Int[Tensor, " n"]:
    """Start of each segment in a sorted segment-id vector (empty segments allowed)."""
    starts = torch.zeros(n, dtype=torch.long, device=segment.device)
    starts[1:] = torch.bincount(segment, minlength=n).cumsum(0)[:-1]
    return starts


class _SelectedPre(torch.autograd.Function):
    """Pre-activations ``x_c[r] . W[:, c] + b[c]`` at chosen (row, column) pairs, with sparse grads.

    The values were computed by the dense no-grad encoder and are passed in; only the
    backward pass is new: segment sums over the chosen pairs instead of dense matmuls.
    """

    @staticmethod
    def forward(ctx, values: Tensor, x_c: Tensor, W: Tensor, b: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        ctx.save_for_backward(x_c, W, rows, cols)
        return values

    @staticmethod
    def backward(ctx, grad: Tensor):
        x_c, W, rows, cols = ctx.saved_tensors
        d_sae = W.shape[1]
        by_col = cols.argsort(stable=True)
        grad_W = F.embedding_bag(rows[by_col], x_c, _offsets(cols[by_col], d_sae), mode="sum",
                                 per_sample_weights=grad[by_col]).T
        grad_b = torch.bincount(cols, weights=grad, minlength=d_sae).to(grad.dtype)
        grad_x = F.embedding_bag(cols, W.T.contiguous(), _offsets(rows, len(x_c)), mode="sum",
                                 per_sample_weights=grad)
        return None, grad_x, grad_W, grad_b, None, None


def _gather(matrix: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``matrix[rows, cols]`` through a flat index_select (several times faster on CPU)."""
    return matrix.reshape(-1).index_select(0, rows * matrix.shape[1] + cols)


def sparse_decode(rows: Int[Tensor, " nnz"], cols: Int[Tensor, " nnz"], acts: Float[Tensor, " nnz"],
                  W_dec: Float[Tensor, "d_sae d_in"], n_rows: int) -> Float[Tensor, "n_rows d_in"]:
    """``sum_j acts_j * W_dec[cols_j]`` per row; ``rows`` must be sorted."""
    return F.embedding_bag(cols, W_dec, _offsets(rows, n_rows), mode="sum", per_sample_weights=acts)


def batch_topk_indices(hidden_pre: Float[Tensor, "batch d_sae"], n_keep: int, guess: float) -> Int[Tensor, " nnz"]:
    """Flat indices (ascending) of the ``n_keep`` largest positive pre-activations of the batch.

    Exact for any ``guess``: candidates are the values above ``guess``; when there are fewer
    than ``n_keep`` of them, all positive values are the candidates.
    """
    flat = hidden_pre.reshape(-1)
    idx = (flat > max(guess, 0.0)).nonzero().squeeze(1)
    if len(idx) < n_keep and guess > 0:
        idx = (flat > 0).nonzero().squeeze(1)
    if len(idx) > n_keep:
        idx = idx[flat[idx].topk(n_keep, sorted=False).indices].sort().values
    return idx


class _SparseStepMixin:
    """The shared sparse training step; subclasses say how features are selected."""

    def _fast_ok(self) -> bool:
        return self.cfg.normalize_activations == "none" and self.cfg.reshape_activations == "none"

    def _select(self, hidden_pre: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _encoding(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The centred input and the encoder/decoder weights as the training step uses them (scaled by
        the decoder norms when SAELens rescales activations by them)."""
        x_c = x - self.b_dec * self.cfg.apply_b_dec_to_input
        norm = self.W_dec.norm(dim=-1) if self.cfg.rescale_acts_by_decoder_norm else None
        W_enc = self.W_enc * norm if norm is not None else self.W_enc
        b_enc = self.b_enc * norm if norm is not None else self.b_enc
        W_dec = self.W_dec / norm[:, None] if norm is not None else self.W_dec
        return x_c, W_enc, b_enc, W_dec

    def training_forward_pass(self, step_input: TrainStepInput) -> TrainStepOutput:
        if not self._fast_ok() or not torch.is_grad_enabled():
            return super().training_forward_pass(step_input)
        x = step_input.sae_in.to(self.dtype)
        x_c, W_enc, b_enc, W_dec = self._encoding(x)
        with torch.no_grad():
            hidden_pre = torch.addmm(b_enc, x_c, W_enc)
        rows, cols = self._select(hidden_pre)
        pre = _SelectedPre.apply(_gather(hidden_pre, rows, cols), x_c, W_enc, b_enc, rows, cols)
        sae_out = sparse_decode(rows, cols, pre, W_dec, len(x)) + self.b_dec
        mse_loss = (sae_out - x).pow(2).sum(-1).mean()
        losses = {"mse_loss": mse_loss}
        losses["auxiliary_reconstruction_loss"] = self._aux_loss(x, x_c, sae_out, hidden_pre, W_enc, b_enc, W_dec,
                                                                 step_input.dead_neuron_mask)
        feature_acts = torch.sparse_coo_tensor(torch.stack([rows, cols]), pre.detach(), hidden_pre.shape,
                                               is_coalesced=True, check_invariants=False)
        return TrainStepOutput(sae_in=step_input.sae_in, sae_out=sae_out, feature_acts=feature_acts,
                               hidden_pre=hidden_pre, loss=sum(losses.values()), losses=losses,
                               metrics=self._metrics(pre.detach()))

    def _metrics(self, acts: Tensor) -> dict[str, Any]:
        return {}

    def _aux_loss(self, x, x_c, sae_out, hidden_pre, W_enc, b_enc, W_dec, dead: Tensor | None) -> Tensor:
        """SAELens's TopK auxiliary loss: the top dead latents reconstruct the live residual."""
        n_dead = int(dead.sum()) if dead is not None else 0
        if n_dead == 0:
            return sae_out.new_tensor(0.0)
        k_aux = x.shape[-1] // 2
        scale = min(n_dead / k_aux, 1.0)
        k_aux = min(k_aux, n_dead)
        dead_cols = dead.nonzero().squeeze(1)
        residual = (x - sae_out).detach()
        if k_aux == n_dead:  # every dead feature takes part: a small dense problem
            recons = (x_c @ W_enc[:, dead_cols] + b_enc[dead_cols]) @ W_dec[dead_cols]
        else:
            with torch.no_grad():
                top = hidden_pre[:, dead_cols].topk(k_aux, dim=-1, sorted=False).indices
            rows = torch.arange(len(x), device=x.device).repeat_interleave(k_aux)
            cols = dead_cols[top].reshape(-1)
            pre = _SelectedPre.apply(_gather(hidden_pre, rows, cols), x_c, W_enc, b_enc, rows, cols)
            recons = sparse_decode(rows, cols, pre, W_dec, len(x))
        return self.cfg.aux_loss_coefficient * scale * (recons - residual).pow(2).sum(-1).mean()


class SparseTopKTrainingSAE(_SparseStepMixin, TopKTrainingSAE):
    """SAELens's TopK training SAE with the sparse training step."""

    def _select(self, hidden_pre: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            values, cols = hidden_pre.topk(self.cfg.k, dim=-1, sorted=False)
        keep = (values > 0).reshape(-1)  # TopK applies ReLU after the top-k
        rows = torch.arange(len(hidden_pre), device=hidden_pre.device).repeat_interleave(self.cfg.k)
        return rows[keep], cols.reshape(-1)[keep]


class SparseBatchTopKTrainingSAE(_SparseStepMixin, BatchTopKTrainingSAE):
    """SAELens's BatchTopK training SAE with the sparse training step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._guess = 0.0

    def _select(self, hidden_pre: Tensor) -> tuple[Tensor, Tensor]:
        n_keep = int(self.cfg.k * hidden_pre.shape[:-1].numel())
        with torch.no_grad():
            idx = batch_topk_indices(hidden_pre, n_keep, self._guess)
            if len(idx) == n_keep:
                self._guess = GUESS_MARGIN * float(hidden_pre.reshape(-1)[idx].min())
        d_sae = hidden_pre.shape[-1]
        return idx // d_sae, idx % d_sae

    def _metrics(self, acts: Tensor) -> dict[str, Any]:
        if len(acts):
            self.update_topk_threshold(acts)
        return {"topk_threshold": self.topk_threshold}

    @torch.no_grad()
    def calibrate_threshold(self, x: Tensor) -> None:
        """Set the saved threshold to the final weights' exact batch top-k threshold on ``x``.

        SAELens saves a BatchTopK SAE as a JumpReLU SAE whose threshold is a moving average (rate
        0.01) of each step's smallest kept activation, started at 0: after a short run it is a
        fraction of the real one (12 steps: 11%), so the saved SAE fires on most latents (L0 1266
        for k 32 in the README's example) although training kept k per token."""
        x_c, W_enc, b_enc, _ = self._encoding(x.to(self.dtype))
        hidden_pre = torch.addmm(b_enc, x_c, W_enc)
        rows, cols = self._select(hidden_pre)
        kept = hidden_pre[rows, cols]
        if (kept > 0).any():
            self.topk_threshold = kept[kept > 0].min().to(self.topk_threshold.dtype)


SPARSE_CLASSES: dict[str, type[TrainingSAE]] = {"topk": SparseTopKTrainingSAE,
                                                "batchtopk": SparseBatchTopKTrainingSAE}


def make_training_sae(arch: dict[str, Any], sparse: bool = True) -> TrainingSAE:
    """A SAELens training SAE from a config dict; TopK/BatchTopK get the sparse step."""
    cfg = TrainingSAE.get_sae_config_class_for_architecture(arch["architecture"]).from_dict(arch)
    if sparse and arch["architecture"] in SPARSE_CLASSES:
        return SPARSE_CLASSES[arch["architecture"]](cfg)
    return TrainingSAE.from_dict(arch)

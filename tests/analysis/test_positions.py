"""Loss by position: sliding windows against a per-position brute force, buckets and mention distances."""

import numpy as np
import pytest
import torch

from simplestories_interp.analysis.positions import (
    _windows,
    bucket_index,
    bucket_means,
    mention_distances,
    mention_loss_by_distance,
    position_losses,
)
from simplestories_interp.data.rows import Rows
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.training.model import next_token_loss


@pytest.mark.parametrize("length,n_ctx,stride", [(20, 8, 4), (20, 8, 7), (8, 8, 4), (5, 8, 4), (33, 8, 3)])
def test_windows_score_each_prediction_once_with_enough_context(length, n_ctx, stride):
    windows = _windows(length, n_ctx, stride)
    scored = []
    for i, (start, first) in enumerate(windows):
        end = min(start + n_ctx, length) - 1  # predictions at positions first .. end - 1
        scored += range(first, end)
        if i:
            assert all(p - start >= n_ctx - stride - 1 for p in range(first, end))
    assert scored == list(range(length - 1))


def test_position_losses_match_brute_force(tiny_model):
    torch.manual_seed(1)
    tokens = torch.randint(0, 600, (3, 150))
    stride = 16
    got = position_losses(tiny_model, tokens, stride=stride, batch_size=2)
    n = tiny_model.cfg.n_ctx
    starts = list(range(0, 150 - n + 1, stride)) + [150 - n]
    for p in [0, 5, 62, 63, 64, 70, 100, 148]:
        s = next(s for s in starts if s + n - 1 >= p + 1)  # the first window holding the target
        window = tokens[:, s:s + n]
        with torch.no_grad():
            want = next_token_loss(tiny_model(window), window, reduction="none")[:, p - s]
        torch.testing.assert_close(got[:, p], want, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # within the context: the plain loss
        short = tokens[:, :40]
        torch.testing.assert_close(position_losses(tiny_model, short), next_token_loss(tiny_model(short), short,
                                                                                       reduction="none"))
    with pytest.raises(InvalidArgumentError, match="stride"):
        position_losses(tiny_model, tokens, stride=n)


def test_bucket_means_by_hand():
    values = torch.arange(12.0).reshape(2, 6)  # positions 0..5
    assert bucket_index(np.arange(6), ((0, 2), (2, 5))).tolist() == [0, 0, 1, 1, 1, -1]
    # bucket 0: 0, 1, 6, 7 -> 3.5; bucket 1: 2, 3, 4, 8, 9, 10 -> 6.0; bucket 2 is past the rows
    assert bucket_means(values, ((0, 2), (2, 5), (6, 9))) == [3.5, 6.0, None]


def _rows() -> Rows:
    # "[EOS] Sam ran . Sam sat . He ran" with Sam's second mention 3 tokens and "He" 6 after the first.
    text = "Sam ran. Sam sat. He ran"
    offsets = [(-1, -1), (0, 3), (4, 7), (7, 8), (9, 12), (13, 16), (16, 17), (18, 20), (21, 24)]
    record = {"story": text, "annotations": [
        {"start": 0, "end": 3, "role": "name_first", "entity": "hero", "first": 0},
        {"start": 9, "end": 12, "role": "name_later", "entity": "hero", "first": 0},
        {"start": 18, "end": 20, "role": "subject_pronoun", "entity": "hero", "first": 0},
    ]}
    start, end = np.array([[o[0] for o in offsets]]), np.array([[o[1] for o in offsets]])
    return Rows(np.arange(9)[None], np.zeros((1, 9), np.int32), start, end, [text], [record])


def test_mention_distances_by_hand():
    row, pos, dist = mention_distances(_rows())
    assert row.tolist() == [0, 0] and pos.tolist() == [4, 7] and dist.tolist() == [3, 6]
    losses = torch.arange(8.0)[None]  # the loss at p predicts token p + 1
    got = mention_loss_by_distance(losses, _rows(), buckets=((1, 4), (4, 8), (8, 16)))
    assert got == [{"distance": "1-3", "mentions": 1, "loss": 3.0}, {"distance": "4-7", "mentions": 1, "loss": 6.0},
                   {"distance": "8-15", "mentions": 0, "loss": None}]

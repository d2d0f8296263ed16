"""Per-story head statistics: one story alone in each row, from position 0, padding not counted.

The streamed statistics over padded one-story rows must equal a brute-force count over the
stories run one at a time, unpadded (what the TinyStories paper reads): the padding changes
nothing and adds no query.
"""

import numpy as np
import pytest
import torch

from simplestories_interp import zoo
from simplestories_interp.analysis.heads import MAX_OFFSET, head_statistics
from simplestories_interp.data.rows import build_rows
from simplestories_interp.zoo.loading import build_model


@pytest.fixture(scope="module")
def model(synth_tokenizer):
    spec = zoo.ModelSpec(name="per-story", n_layers=1, d_model=32, n_heads=4, d_head=8, n_key_value_heads=4,
                         d_mlp=16, d_vocab=len(synth_tokenizer), n_ctx=512, positional="absolute")
    torch.manual_seed(3)
    return build_model(spec, None, synth_tokenizer, device="cpu", dtype=torch.float64)


def test_padded_rows_hold_one_story_each_from_position_0(synth_tokenizer):
    rows = build_rows("synthetic:5", synth_tokenizer, 512, 12, per_document=True, pad=True)
    lengths = rows.in_story.sum(1)
    assert len(rows.tokens) == 12 and rows.n_ctx == lengths.max() <= 512
    assert lengths.min() < rows.n_ctx  # the stories differ in length, so some rows are padded
    for r in range(12):
        assert (rows.story[r, : lengths[r]] == r).all() and (rows.story[r, lengths[r]:] == -1).all()
        assert rows.start[r, 0] == -1 and rows.start[r, 1] == 0  # [EOS], then the story's first token
    assert rows.n_tokens == lengths.sum() and f"{rows.n_tokens:,} tokens" in rows.describe()
    assert not (rows.roles()["eos"] & ~rows.in_story).any()


def test_per_story_statistics_equal_a_brute_force_count_story_by_story(model):
    stats = head_statistics(model, source="synthetic:5", n_stories=10, per_story=True, batch_size=3)
    rows = build_rows("synthetic:5", model.tokenizer, 512, 10, per_document=True, pad=True)
    hist = np.zeros((model.cfg.n_heads, MAX_OFFSET + 2))
    offset_sum, offset_n = np.zeros((model.cfg.n_heads, MAX_OFFSET + 1)), np.zeros(MAX_OFFSET + 1)
    first = np.zeros(model.cfg.n_heads)
    for r in range(len(rows.tokens)):
        tokens = torch.from_numpy(rows.tokens[r, : rows.in_story[r].sum()])[None]  # the story alone
        _, cache = model.run_with_cache(tokens, names_filter="blocks.0.attn.hook_pattern")
        pattern = cache["blocks.0.attn.hook_pattern"][0]  # [head, q, k]
        for q in range(1, tokens.shape[1]):
            k = pattern[:, q].argmax(-1)
            for h in range(model.cfg.n_heads):
                hist[h, MAX_OFFSET + 1 if k[h] == 0 else min(q - int(k[h]), MAX_OFFSET + 1)] += 1
            first += pattern[:, q, 0].numpy()
        for o in range(MAX_OFFSET + 1):
            offset_sum[:, o] += pattern.diagonal(-o, dim1=-2, dim2=-1).sum(-1).numpy()
            offset_n[o] += max(0, tokens.shape[1] - o)
    queries = hist.sum(1)
    assert queries == pytest.approx(rows.n_tokens - len(rows.tokens))  # every story token but the [EOS]
    for s in stats:
        assert s.argmax_offsets == pytest.approx((hist[s.head] / queries[s.head]).tolist(), abs=1e-4)
        assert s.offset_attention == pytest.approx((offset_sum[s.head] / offset_n).tolist(), abs=1e-4)
        assert s.first_token == pytest.approx(first[s.head] / queries[s.head])


def test_packed_and_per_story_rows_differ(model):
    """Packed rows put earlier stories in view; the per-story option must not read them."""
    packed = head_statistics(model, source="synthetic:5", n_stories=10)
    alone = head_statistics(model, source="synthetic:5", n_stories=10, per_story=True)
    assert any(a.first_token != pytest.approx(b.first_token, abs=1e-3) for a, b in zip(packed, alone, strict=True))

import pytest
import torch

from simplestories_interp.analysis.heads import (
    Thresholds,
    _Acc,
    _finish,
    accumulate,
    head_statistics,
)
from simplestories_interp.data.rows import build_rows
from simplestories_interp.render import views


def _classify(pattern, entity=None, roles=None, role_names=("name",)):
    q = pattern.shape[-1]
    acc = _Acc(pattern.shape[1], list(role_names))
    entity = entity if entity is not None else torch.full((1, q), -1)
    roles = roles if roles is not None else torch.zeros(1, len(role_names), q)
    accumulate(acc, pattern, torch.ones(1, q, dtype=torch.bool), entity, roles, window=3)
    return _finish(acc, 0, Thresholds())


def test_exact_offset_is_positional():
    q = 40
    p = torch.zeros(1, 1, q, q)
    for i in range(q):
        p[0, 0, i, max(0, i - 2)] = 1
    (s,) = _classify(p)
    assert s.head_class == "positional" and s.offset == -2
    assert s.offset_attention[2] == 1.0 and s.confidence == 1.0


def test_attending_to_earlier_name_mentions_is_semantic():
    q = 40
    entity = torch.full((1, q), -1)
    entity[0, [3, 17, 31]] = 0  # three mentions of one character
    roles = torch.zeros(1, 1, q)
    roles[0, 0, [3, 17, 31]] = 1
    p = torch.zeros(1, 1, q, q)
    for i in range(q):
        p[0, 0, i, 3 if i > 6 else i] = 1  # every later token looks back at the first mention
    (s,) = _classify(p, entity, roles)
    assert s.head_class == "semantic" and s.top_role == "name"
    assert s.entity_lift > 2 and s.same_entity > 0.5


def test_sink_and_uniform():
    q = 30
    sink = torch.zeros(1, 1, q, q)
    sink[..., 0] = 1
    causal = torch.tril(torch.ones(q, q))
    uniform = (causal / causal.sum(-1, keepdim=True))[None, None]
    (a,), (b,) = _classify(sink), _classify(uniform)
    assert a.head_class == "sink"
    assert b.head_class == "mixed" and b.entropy > 0.99  # broad attention is not semantic


def _hard_far_head(q: int, keys: list[int]) -> torch.Tensor:
    """Near-hard attention: each query reads the latest of ``keys`` beyond the window (else itself)."""
    p = torch.zeros(1, 1, q, q)
    for i in range(q):
        far = [k for k in keys if k < i - 3]
        p[0, 0, i, far[-1] if far else i] = 1
    return p


@pytest.mark.parametrize("role, expected", [("verb", "semantic"), ("article", "mixed"), ("eos", "mixed"),
                                            ("dialogue", "mixed")])
def test_focus_is_semantic_only_on_a_semantic_role(role, expected):
    """A near-hard head is focused wherever it looks (entropy ~0): focus counts as semantic only when what
    it reads is a semantic role (a verb), not a token-identity role, [EOS] or a span of dialogue."""
    q, keys = 48, [2, 9, 17, 26, 35]
    roles = torch.zeros(1, 2, q)
    roles[0, 0, keys] = 1
    roles[0, 1, [5, 12, 30]] = 1  # another role, read at chance
    (s,) = _classify(_hard_far_head(q, keys), roles=roles, role_names=(role, "other"))
    assert s.entropy < 0.01 and s.far_content > 0.5 and s.entity_lift is None
    assert s.top_role == role and s.head_class == expected


def test_a_hard_head_without_a_preference_is_mixed():
    """Near-hard attention on far keys chosen without regard to any role (every 7th token) is not semantic
    (before December 2026 focus alone made it so)."""
    q = 48
    roles = torch.zeros(1, 1, q)
    roles[0, 0, ::2] = 1  # half the keys: the head's far keys hold it at its base rate
    (s,) = _classify(_hard_far_head(q, list(range(0, q, 7))), roles=roles, role_names=("verb",))
    assert s.entropy < 0.01 and s.far_content > 0.5
    assert s.top_role is None and s.head_class == "mixed"


def test_on_a_model_and_views(tiny_model):
    stats = head_statistics(tiny_model, n_stories=6, batch_size=2)
    assert len(stats) == 8 and {s.head_class for s in stats} <= {"positional", "semantic", "mixed", "sink"}
    # the streamed statistics are those of the model's attention patterns over the same rows
    # (all of the 6 stories: the tokens that do not fill a last row are in a padded row, not counted)
    rows = build_rows("synthetic", tiny_model.tokenizer, 64, 6, annotated=True, pad=True)
    assert rows.left_out == 0 and not rows.in_story[-1, -1]
    inside = torch.from_numpy(rows.in_story)
    _, cache = tiny_model.run_with_cache(torch.from_numpy(rows.tokens),
                                         names_filter=lambda name: name.endswith("hook_pattern"))
    for s in stats:
        pattern = cache[f"blocks.{s.layer}.attn.hook_pattern"][:, s.head].double()  # [row, q, k]
        assert s.first_token == pytest.approx(pattern[:, 1:, 0][inside[:, 1:]].mean().item(), abs=1e-6)
        assert s.confidence == pytest.approx(pattern[:, 1:].max(-1).values[inside[:, 1:]].mean().item(), abs=1e-6)
        for offset in (1, 2, 5):
            diagonal = pattern.diagonal(-offset, 1, 2)[inside[:, offset:]]
            assert s.offset_attention[offset] == pytest.approx(diagonal.mean().item(), abs=1e-4)
    records = [vars(s) for s in stats]
    page = views.heads_heatmap(records, 2, 4)
    assert "plotly" in page.lower() and 'src="https://cdn.plot.ly' not in page and len(page) > 1_000_000
    att = views.attention_view(tiny_model, "Lily went to the park.", [(0, 0), (1, 3)])
    assert "CircuitsVis" in att and "unpkg.com" not in att


def test_one_hook_name_parser():
    from simplestories_interp.analysis.hooks import layer_of

    assert layer_of("blocks.3.mlp.hook_post") == 3 and layer_of("blocks.12.hook_resid_pre") == 12
    assert layer_of("hook_embed") is None and layer_of("ln_final.hook_normalized") is None
    assert layer_of("blocks.x.mlp") is None


def test_a_local_layer_is_judged_on_the_keys_it_can_see():
    """GPT-Neo's local layers cannot attend beyond their window: those keys are not far keys a head
    chose to ignore. Attention spread evenly over the keys a local head sees has entity lift 1 and
    entropy 1; judged against every earlier key it would look entity-averse and focused."""
    from simplestories_interp.analysis.heads import _Acc, accumulate, reachable

    n, attn_window = 24, 6
    seen = reachable(n, attn_window).double()
    pattern = (seen / seen.sum(-1, keepdim=True))[None, None]  # [batch, head, q, k]
    entity = torch.full((1, n), -1)
    entity[0, 1:4] = 0  # early mentions, out of reach of the later queries
    entity[0, 12:14] = 1
    content = torch.ones(1, n, dtype=torch.bool)
    lifts, entropies = [], []
    for window in (attn_window, None):
        acc = _Acc(1)
        accumulate(acc, pattern, content, entity, None, 1, attn_window=window)
        lifts.append(float(acc.entity[0] / acc.entity_base[0]))
        entropies.append(float(acc.entropy[0] / acc.queries[0]))
    assert abs(lifts[0] - 1) < 1e-9 and abs(entropies[0] - 1) < 1e-3
    assert lifts[1] < 0.9 and entropies[1] < 0.9

"""The head classifier on a HookedTransformer whose heads are known: every class is recovered.

A 1-layer model gets, through a permanent hook on ``blocks.0.attn.hook_pattern``, attention
patterns planted from the tokens it reads (annotated synthetic stories): a previous-token head,
an offset -4 head, a head that looks back at the first mention of the character last named, a
uniform head and a first-token head. ``head_statistics`` then runs on the model exactly as on a
trained one. Its streamed statistics are also checked against a brute-force count over the same
patterns.
"""

import numpy as np
import pytest
import torch

from simplestories_interp import zoo
from simplestories_interp.analysis.heads import MAX_OFFSET, head_statistics
from simplestories_interp.data.rows import build_rows, entity_ids
from simplestories_interp.zoo.loading import build_model

N_CTX, WINDOW = 64, 3


def _offset(q_len: int, offset: int) -> torch.Tensor:
    p = torch.zeros(q_len, q_len)
    for q in range(q_len):
        p[q, max(0, q - offset)] = 1
    return p


def _current_character(entity: np.ndarray, is_name: np.ndarray) -> torch.Tensor:
    """Each token attends to the first mention (in its row) of the character named last before it,
    if that mention is beyond the local window; otherwise to itself."""
    p = torch.zeros(len(entity), len(entity))
    first: dict[int, int] = {}
    current = None
    for q in range(len(entity)):
        if is_name[q]:
            first.setdefault(int(entity[q]), q)
            current = int(entity[q])
        target = first.get(current, q) if current is not None else q
        p[q, target if target < q - WINDOW else q] = 1
    return p


def _planted(rows, row: int) -> torch.Tensor:
    """The five planted heads' patterns for one row, [head, q, k]."""
    entity, names = entity_ids(rows)[row], rows.roles()["name_first"][row] | rows.roles()["name_later"][row]
    causal = torch.tril(torch.ones(N_CTX, N_CTX))
    sink = torch.zeros(N_CTX, N_CTX)
    sink[:, 0] = 1
    return torch.stack([_offset(N_CTX, 1), _offset(N_CTX, 4), _current_character(entity, names),
                        causal / causal.sum(-1, keepdim=True), sink])


@pytest.fixture(scope="module")
def planted(synth_tokenizer):
    rows = build_rows("synthetic:77", synth_tokenizer, N_CTX, 30)
    spec = zoo.ModelSpec(name="planted", n_layers=1, d_model=40, n_heads=5, d_head=8, n_key_value_heads=5,
                         d_mlp=16, d_vocab=len(synth_tokenizer), n_ctx=N_CTX)
    model = build_model(spec, None, synth_tokenizer, device="cpu")
    index = {rows.tokens[r].tobytes(): r for r in range(len(rows.tokens))}
    seen: dict[str, torch.Tensor] = {}
    model.embed.register_forward_pre_hook(lambda module, args: seen.update(tokens=args[0]))

    def plant(pattern, hook):
        batch = [index[t.numpy().astype(np.int64).tobytes()] for t in seen["tokens"].cpu()]
        return torch.stack([_planted(rows, r) for r in batch]).to(pattern)

    model.add_perma_hook("blocks.0.attn.hook_pattern", plant)
    return model, rows


def test_every_planted_class_is_recovered(planted):
    model, rows = planted
    stats = head_statistics(model, rows, batch_size=4)
    prev, four, character, uniform, sink = stats
    assert (prev.head_class, prev.offset, four.head_class, four.offset) == ("positional", -1, "positional", -4)
    # a query whose target is the first token is counted apart (queries 1 and 1..4): 62 and 59 of 63
    assert prev.positional_share == pytest.approx((N_CTX - 2) / (N_CTX - 1))
    assert four.positional_share == pytest.approx((N_CTX - 5) / (N_CTX - 1))
    # Pronouns are mentions too (they look back at the name only after it is beyond the window).
    assert character.head_class == "semantic" and character.entity_lift > 3 and character.same_entity > 0.2
    assert character.top_role in ("name_first", "name_later")
    assert uniform.head_class == "mixed" and uniform.entropy > 0.99
    assert uniform.entity_lift == pytest.approx(1.0, abs=1e-6)  # uniform attention is the lift's baseline
    assert sink.head_class == "sink" and sink.first_token == pytest.approx(1.0)


def test_streamed_statistics_agree_with_a_brute_force_histogram(planted):
    """Offset histogram of the argmax and mean attention per offset, counted query by query."""
    model, rows = planted
    stats = head_statistics(model, rows, batch_size=4)
    patterns = torch.stack([_planted(rows, r) for r in range(len(rows.tokens))]).double()  # [row, head, q, k]
    for s in stats:
        hist = np.zeros(MAX_OFFSET + 2)
        for row in patterns[:, s.head]:
            for q in range(1, N_CTX):
                k = int(row[q].argmax())
                hist[MAX_OFFSET + 1 if k == 0 else min(q - k, MAX_OFFSET + 1)] += 1
        hist /= hist.sum()
        assert s.positional_share == pytest.approx(hist[: MAX_OFFSET + 1].max())
        assert s.argmax_offsets == pytest.approx(hist.tolist(), abs=1e-4)
        for o in range(MAX_OFFSET + 1):
            diag = torch.stack([row.diagonal(-o) for row in patterns[:, s.head]])
            assert s.offset_attention[o] == pytest.approx(diag.mean().item(), abs=1e-4)

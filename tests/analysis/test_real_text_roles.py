"""On plain English text (no annotations), heads and neurons get content roles from the rule tagger
where they hold, and "none" where nothing is above threshold.

A 1-layer model over the plain stories of tests/plain_stories.py gets planted components: head 0
attends to the latest earlier name beyond the local window (a name-seeking head), head 1 is uniform;
MLP neuron 0 fires on character nouns, neuron 1 is noise.
"""

import numpy as np
import pytest
import torch

from simplestories_interp import zoo
from simplestories_interp.analysis.heads import Thresholds, head_statistics, parse_thresholds
from simplestories_interp.analysis.neurons import explain, scan
from simplestories_interp.data.rows import build_rows
from simplestories_interp.errors import ConfigError, InvalidArgumentError
from simplestories_interp.zoo.loading import build_model

N_CTX, WINDOW = 64, 3


def _name_seeker(is_name: np.ndarray) -> torch.Tensor:
    p = torch.zeros(N_CTX, N_CTX)
    last = None
    for q in range(N_CTX):
        target = last if last is not None and last < q - WINDOW else q
        p[q, target] = 1
        if is_name[q]:
            last = q
    return p


@pytest.fixture(scope="module")
def planted(synth_tokenizer, tmp_path_factory):
    from tests.plain_stories import PLAIN_STORIES

    path = tmp_path_factory.mktemp("plain") / "stories.txt"
    path.write_text("\n<|endoftext|>\n".join(PLAIN_STORIES))
    rows = build_rows(str(path), synth_tokenizer, N_CTX, 10)
    roles = rows.roles()
    names = roles["name_first"] | roles["name_later"]
    spec = zoo.ModelSpec(name="planted-plain", n_layers=1, d_model=32, n_heads=2, d_head=16, n_key_value_heads=2,
                         d_mlp=8, d_vocab=len(synth_tokenizer), n_ctx=N_CTX)
    torch.manual_seed(0)
    model = build_model(spec, None, synth_tokenizer, device="cpu")
    index = {rows.tokens[r].tobytes(): r for r in range(len(rows.tokens))}
    seen: dict[str, torch.Tensor] = {}
    model.embed.register_forward_pre_hook(lambda module, args: seen.update(tokens=args[0]))
    batch_rows = lambda: [index[t.numpy().astype(np.int64).tobytes()] for t in seen["tokens"].cpu()]  # noqa: E731
    causal = torch.tril(torch.ones(N_CTX, N_CTX))

    def heads(pattern, hook):
        return torch.stack([torch.stack([_name_seeker(names[r]), causal / causal.sum(-1, keepdim=True)])
                            for r in batch_rows()]).to(pattern)

    def neurons(post, hook):
        noise = torch.rand(post.shape, generator=torch.Generator().manual_seed(1))
        noun = torch.from_numpy(roles["character_noun"][batch_rows()]).float()
        return torch.cat([5 * noun[..., None], noise[..., 1:]], -1).to(post)

    model.add_perma_hook("blocks.0.attn.hook_pattern", heads)
    model.add_perma_hook("blocks.0.mlp.hook_post", neurons)
    return model, rows


def test_heads_get_content_roles_where_they_hold_and_none_at_chance(planted):
    model, rows = planted
    assert rows.role_source == "tagger"
    seeker, uniform = head_statistics(model, rows, batch_size=4)
    assert seeker.head_class == "semantic" and seeker.top_role in ("name_first", "name_later", "speaker")
    assert seeker.top_role_lift > 3 and seeker.entity_lift > 2  # entities: the tagger's names, nouns, places
    assert uniform.head_class == "mixed" and uniform.top_role is None  # every role's lift is ~1
    assert uniform.top_role_lift < Thresholds().role_lift and uniform.entity_lift == pytest.approx(1.0, abs=1e-6)


def test_neurons_get_content_roles_where_they_hold_and_none_at_chance(planted):
    model, rows = planted
    explanations = explain(scan(model, "blocks.0.mlp.hook_post", rows=rows, k=10))
    assert explanations[0].shown_role == "character_noun" and explanations[0].precision == 1.0
    assert "role character_noun" in explanations[0].describe()
    noise = explanations[1:]
    assert all(e.shown_role is None for e in noise), [(e.role, e.precision, e.lift) for e in noise]
    assert all(e.describe().startswith("role none") for e in noise)


def test_thresholds_from_the_command_line():
    assert parse_thresholds(["positional_share=0.8", "window=5"]) == Thresholds(positional_share=0.8, window=5)
    with pytest.raises(InvalidArgumentError, match="Did you mean 'role_lift'"):
        parse_thresholds(["role_lfit=2"])
    with pytest.raises(InvalidArgumentError, match="not a number"):
        parse_thresholds(["sink=high"])
    with pytest.raises(ConfigError, match="non-negative"):
        parse_thresholds(["semantic=-1"])

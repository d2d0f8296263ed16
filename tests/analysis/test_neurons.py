import torch

from simplestories_interp.analysis.neurons import (
    explain,
    logit_effect,
    quantile_examples,
    role_summary,
    scan,
    topk_update,
)
from simplestories_interp.data.rows import build_rows
from simplestories_interp.render import views


def test_streaming_topk_equals_brute_force(tiny_model):
    top = scan(tiny_model, "blocks.1.mlp.hook_post", n_stories=15, k=7, batch_size=3)
    _, cache = tiny_model.run_with_cache(torch.from_numpy(top.rows.tokens))
    acts = cache["blocks.1.mlp.hook_post"].reshape(-1, 48)
    inside = torch.from_numpy(top.rows.in_story.ravel())
    brute = acts.masked_fill(~inside[:, None], -torch.inf).T.topk(7, dim=1)  # padding is never a top token
    assert torch.allclose(top.values, brute.values, atol=1e-6)
    assert torch.equal(acts.T.gather(1, top.index), top.values)  # indices point at those values
    assert top.values.shape == (48, 7)


def test_topk_update_is_exact_on_random_streams():
    torch.manual_seed(0)
    stream = torch.randn(1000, 5)
    values, index = torch.empty(5, 0), torch.empty(5, 0, dtype=torch.long)
    for start in range(0, 1000, 37):
        values, index = topk_update(values, index, stream[start:start + 37], start, 10)
    brute = stream.T.topk(10, dim=1)
    assert torch.equal(values, brute.values) and torch.equal(index, brute.indices)


def test_residual_stream_and_transform(tiny_model):
    top = scan(tiny_model, "blocks.0.hook_resid_post", n_stories=5, k=3, transform=lambda a: a[:, :4].relu())
    assert top.values.shape == (4, 3)
    _, cache = tiny_model.run_with_cache(torch.from_numpy(top.rows.tokens))
    units = cache["blocks.0.hook_resid_post"].reshape(-1, 32)[:, :4].relu()  # the transform, by hand
    brute = units.T.topk(3, dim=1)
    assert torch.allclose(top.values, brute.values, atol=1e-6)
    assert torch.equal(units.T.gather(1, top.index), top.values)


def test_roles_on_a_planted_neuron(tiny_model, synth_tokenizer):
    rows = build_rows("synthetic", synth_tokenizer, 64, 20, annotated=True)
    planted = torch.from_numpy(rows.roles()["said_verb"].astype("float32")).reshape(-1, 1)

    chunks = iter(planted.split(8 * 64))  # one unit that fires exactly on said-verbs

    top = scan(tiny_model, "blocks.0.hook_resid_post", rows=rows, k=10, transform=lambda a: next(chunks))
    (ex,) = explain(top, min_activation=0.5)
    assert ex.role == "said_verb" and ex.precision == 1.0 and ex.base_rate < 0.1
    assert role_summary([ex])["with_role"] == 1
    assert len(quantile_examples(top, 0, 4)) == 4


def test_views(tiny_model, tmp_path):
    top = scan(tiny_model, "blocks.1.mlp.hook_post", n_stories=10, k=5)
    ex = explain(top)
    html = views.neurons_page(top, [0, 1, 2], model=tiny_model, explanations=ex)
    assert html.count("class='unit'") == 3 and "<script" not in html and "<mark" in html
    assert "direct logit effect" in html and "<svg" in html
    text = views.neuron_text(top, 0, explanation=ex[0])
    assert "[[" in text and text.startswith("blocks.1.mlp.hook_post unit 0")
    best, worst = logit_effect(tiny_model, 1, 0, n=4)
    assert len(best) == 4 and best[0][1] >= best[-1][1] and worst[0][1] <= worst[-1][1]


def test_rows_are_not_truncated_after_to_tokens(tiny_model):
    """transformers leaves truncation on in the shared backend after to_tokens(truncate=True)."""
    fresh = build_rows("synthetic:3", tiny_model.tokenizer, 64, 10)
    tiny_model.to_tokens("Once upon a time " * 50)
    again = build_rows("synthetic:3", tiny_model.tokenizer, 64, 10)
    assert again.tokens.shape == fresh.tokens.shape and (again.tokens == fresh.tokens).all()


def test_short_files_are_read_whole(tiny_model, tmp_path, capsys):
    """A handful of short stories used to stop with "fewer than one row of n_ctx", and beyond one row
    the remainder was dropped without a word (issue 25): now every token is read, padding never shows."""
    from simplestories_interp.cli import main
    from simplestories_interp.data.rows import story_ids
    from simplestories_interp.zoo.formats import save_native

    short = tmp_path / "short.txt"
    short.write_text("Once upon a time, a girl named Sue had a kite.\n\nTom saw a big dog.\n")
    rows = build_rows(str(short), tiny_model.tokenizer, 64, 10, pad=True)
    total = sum(len(ids) for ids in story_ids(["Once upon a time, a girl named Sue had a kite.", "Tom saw a big dog."],
                                              tiny_model.tokenizer))
    assert rows.tokens.shape == (1, total) and rows.n_tokens == total  # one shorter row, nothing padded
    stream = build_rows("synthetic:3", tiny_model.tokenizer, 64, 7)
    padded = build_rows("synthetic:3", tiny_model.tokenizer, 64, 7, pad=True)
    assert stream.left_out > 0 and f"{stream.left_out:,} more left out" in stream.describe()
    assert padded.left_out == 0 and padded.n_tokens == stream.n_tokens + stream.left_out
    assert not padded.in_story[-1, -1] and padded.story[-1, -1] == -1
    top = scan(tiny_model, "blocks.0.mlp.hook_post", rows=padded, k=5)
    assert padded.in_story.ravel()[top.index.numpy()].all()  # no top token is padding
    assert padded.in_story.ravel()[top.sample_index.numpy()].all()
    model_dir = save_native(tiny_model, tmp_path / "m")
    for command in (["neurons", "--hook", "blocks.0.mlp.hook_post", "--k", "3"], ["heads"], ["heads", "--rows",
                                                                                              "packed"]):
        assert main([*command, str(model_dir), "--data", str(short), "--device", "cpu"]) == 0
        assert f"{total} tokens of 2 stories" in capsys.readouterr().out


def test_one_role_counter():
    from simplestories_interp.analysis.neurons import count_roles

    assert list(count_roles(["verb", "eos", "eos", "name", "verb", "eos"]).items()) == [
        ("eos", 3), ("verb", 2), ("name", 1)]
    assert list(count_roles(["b", "a"])) == ["b", "a"]  # ties keep their order of appearance

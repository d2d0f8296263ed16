"""Every model shipped in models/ loads by name, offline, and matches its model card."""

import json
import re
from collections import Counter

import pytest

import simplestories_interp as ssi
from simplestories_interp import zoo

SHIPPED = sorted(p.name for p in zoo.SHIPPED_MODELS_DIR.iterdir()
                 if p.is_dir() and (p / "training_config.json").is_file())


def test_the_default_model_is_shipped():
    assert ssi.DEFAULT_MODEL in SHIPPED


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_loads_by_name_and_val_loss_matches_card(name):
    model = ssi.load_model(name, device="cpu")
    directory = zoo.SHIPPED_MODELS_DIR / name
    card = json.loads((directory / "training_config.json").read_text())
    assert model.cfg.n_ctx == card["n_ctx"] == zoo.get_spec(name).n_ctx
    # 10 MB, and 13 MB for norm-free twins, whose unembedding is untied (the final norm folds into it);
    # the paper-scale head model is the one documented exception (GPU-trained, bf16 weights)
    limit = {"SynthStories-1L-1024": 45}.get(name, 13 if name.endswith("-noLN") else 10) * 2**20
    assert sum(p.stat().st_size for p in directory.iterdir()) <= limit
    assert card["final"]["val_loss"] is not None
    assert card["command"].startswith(("ssi train", "ssi noln", "ssi.train(load_config("))
    loss = ssi.eval_loss(model, "synthetic:2026", n_stories=300, max_rows=64)
    assert abs(loss - card["final"]["val_loss"]) <= 0.05, (loss, card["final"]["val_loss"])
    assert "val loss" in (directory / "README.md").read_text()


WORD = re.compile(r"[a-z']+")


@pytest.fixture(scope="module")
def corpus_words():
    """The words of 2,000 stories of the synthetic corpus the models were trained on, and its word pairs."""
    from simplestories_interp.data.corpus.synthetic import generate_stories

    words, pairs = set(), set()
    for record in generate_stories(2000, seed=0):
        story = WORD.findall(record["story"].lower())
        words.update(story)
        pairs.update(zip(story, story[1:], strict=False))
    return words, pairs


@pytest.mark.parametrize("name", SHIPPED)
def test_generates_english(name, corpus_words):
    """Greedy continuations read like the corpus: its words, in orders it uses, not one word over and over.
    (A random model of the same shape fails them: word pieces glued into non-words, word pairs the
    corpus never has, or one token repeated.)"""
    words, pairs = corpus_words
    text = ssi.generate(ssi.load_model(name, device="cpu"), "Once upon a time", max_new_tokens=30,
                        temperature=0)
    assert text.startswith("once upon a time")
    assert "[UNK]" not in text.upper() and "[EOS]" not in text.upper() and "##" not in text
    continuation = WORD.findall(text.removeprefix("once upon a time"))
    assert len(continuation) >= 20, text
    assert sum(w in words for w in continuation) >= 0.9 * len(continuation), text
    seen_pairs = sum(p in pairs for p in zip(continuation, continuation[1:], strict=False))
    assert seen_pairs >= 0.75 * (len(continuation) - 1), text
    assert Counter(continuation).most_common(1)[0][1] <= len(continuation) / 4, text


NORM_FREE = [n for n in SHIPPED if n.endswith("-noLN")]


def test_every_model_analysed_in_the_docs_has_a_norm_free_twin():
    for name in ("SynthStories-1.25M", "SynthStories-1L", "SynthStories-1.25M-ctx64", "SynthStories-1.25M-ctx128"):
        assert name + "-noLN" in NORM_FREE
        assert name + "-noLN" in {s.name for s in zoo.entries()}


@pytest.mark.slow
@pytest.mark.parametrize("name", NORM_FREE)
def test_norm_free_twins_are_exact_hooked_transformers(name):
    """The HookedTransformer's logits equal the native (training) implementation's on the same
    weights, within 1e-4 (in float64: in float32 logits of ~100 already differ by ~1e-4 from
    rounding alone), and the card states the loss gap to the normalised original."""
    import torch

    from simplestories_interp.training.model import Llama, from_tl_state, rope_tables
    from simplestories_interp.zoo.formats import load_weights

    model = ssi.load_model(name, device="cpu", dtype=torch.float64)
    assert model.cfg.normalization_type is None
    spec = zoo.get_spec(name)
    state = load_weights(zoo.SHIPPED_MODELS_DIR / name)
    state = {k: v.double() for k, v in state.items()}
    native = Llama(spec).double()
    from_tl_state(native, state)
    tokens = model.to_tokens("Once upon a time, a girl named Lily found a red ball in the park. Max said, "
                             "\"Where is my kite?\" He looked under the bed.")
    with torch.no_grad():
        x = native.embed(tokens)
        cos, sin = (t.double() for t in rope_tables(spec, tokens.shape[1], "cpu"))
        for block in native.blocks:
            x = block(x, cos, sin)
        expected = x @ state["unembed.W_U"] + state["unembed.b_U"]
        assert torch.allclose(model(tokens), expected, atol=1e-4, rtol=0)
    card = (zoo.SHIPPED_MODELS_DIR / name / "README.md").read_text()
    assert "gap to the original" in card


def test_the_paper_scale_head_model_has_its_previous_token_head():
    """SynthStories-1L-1024 (learned positions, GPU-trained) has the paper's Fig. 19 phenomenon: one head's
    argmax is the previous token for >= 95% of queries, over 20 stories read one per row."""
    from simplestories_interp.analysis.heads import head_statistics

    model = ssi.load_model("SynthStories-1L-1024", device="cpu")
    assert model.cfg.positional_embedding_type == "standard" and model.cfg.d_model == 1024
    stats = head_statistics(model, source="synthetic:2023", n_stories=20, per_story=True)
    best = max(stats, key=lambda s: s.argmax_offsets[1])
    assert best.head_class == "positional" and best.offset == -1 and best.positional_share >= 0.95
    seekers = [s for s in stats if s.head_class == "semantic" and (s.entity_lift or 0) >= 1.5]
    assert len(seekers) >= 2

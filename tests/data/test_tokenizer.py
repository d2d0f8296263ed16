import pytest
from tokenizers import Tokenizer, models

from simplestories_interp.data.tokenizer import (
    EOS_ID,
    UNK_ID,
    fix_tokenizer,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
    wrap,
)
from simplestories_interp.errors import MissingDirectoryError, TokenizerMismatchError


def test_recipe_special_tokens_and_size(tokenizer_factory):
    tok = tokenizer_factory(4096)
    assert len(tok) == 4096
    assert tok.convert_tokens_to_ids("[UNK]") == UNK_ID and tok.convert_tokens_to_ids("[EOS]") == EOS_ID


def test_recipe_normalises_and_pretokenises():
    tok = train_tokenizer(["Lily said ``hello'' to 42 cats, twice!"] * 20, vocab_size=120)
    pieces = tok.backend_tokenizer.pre_tokenizer.pre_tokenize_str("lily, 42!")
    assert [p for p, _ in pieces] == ["lily", ",", "4", "2", "!"]
    assert tok.backend_tokenizer.normalizer.normalize_str("Hi ``A''") == 'hi "a"'
    assert tok.encode("LILY") == tok.encode("lily")


def test_hub_style_post_processor_appends_eos(tokenizer_factory):
    tok = tokenizer_factory(4096)
    assert tok.encode("") == [EOS_ID]
    assert tok.encode("once upon a time")[-1] == EOS_ID


def test_fix_removes_post_processor_and_uses_eos_as_bos(tokenizer_factory):
    raw = tokenizer_factory(4096)
    fixed = fix_tokenizer(raw)
    assert fixed.encode("") == []
    assert fixed.encode("once upon a time") == raw.encode("once upon a time")[:-1]
    assert fixed.bos_token_id == EOS_ID and fixed.eos_token_id == EOS_ID
    assert raw.encode("") == [EOS_ID], "fix_tokenizer must not mutate its argument"
    # TransformerLens prepends the BOS *string*; it must map to the special id, not be split.
    assert fixed.encode("[EOS]once") == [EOS_ID] + fixed.encode("once")


def test_save_load_roundtrip(tmp_path, tokenizer_factory):
    tok = tokenizer_factory(4096)
    save_tokenizer(tok, tmp_path / "tok")
    raw = load_tokenizer(tmp_path / "tok", fix=False)
    fixed = load_tokenizer(tmp_path / "tok")
    text = "once upon a time there was a little girl named lily"
    assert raw.encode(text) == tok.encode(text)
    assert fixed.encode(text) == tok.encode(text)[:-1]
    assert fixed.decode(fixed.encode(text)) == text


def test_load_errors(tmp_path):
    with pytest.raises(MissingDirectoryError, match="tokenizer.json"):
        load_tokenizer(tmp_path)
    foreign = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[EOS]": 2}, unk_token="a"))
    with pytest.raises(TokenizerMismatchError, match="id 2"):
        fix_tokenizer(wrap(foreign))


def test_trained_ids_are_numbered_in_a_fixed_order(monkeypatch):
    """The WordPiece trainer numbers its alphabet in hash order, different in each process, so equal
    vocabularies got different ids. The ids now follow the strings (single characters, continuations,
    then longer pieces, each sorted), which changes no split: WordPiece splits by the strings alone."""
    from simplestories_interp.data import tokenizer as tokenizer_module
    from simplestories_interp.data.sources import iter_stories

    stories = list(iter_stories("synthetic", limit=200))
    fixed = tokenizer_module.train_tokenizer(stories, vocab_size=400, pad_vocab=False)
    monkeypatch.setattr(tokenizer_module, "_canonical_ids", lambda tok: None)
    raw = tokenizer_module.train_tokenizer(stories, vocab_size=400, pad_vocab=False)
    vocab = fixed.backend_tokenizer.get_vocab(with_added_tokens=False)
    order = [t for t, _ in sorted(vocab.items(), key=lambda item: item[1])]
    assert order[:2] == ["[UNK]", "[EOS]"]
    assert order[2:] == sorted(order[2:], key=lambda t: (len(t.removeprefix("##")) > 1, t.startswith("##"), t))
    if set(vocab) == set(raw.backend_tokenizer.get_vocab(with_added_tokens=False)):  # ties can differ by run
        texts = list(iter_stories("synthetic:7", limit=50))
        assert all(fixed.tokenize(t) == raw.tokenize(t) for t in texts)

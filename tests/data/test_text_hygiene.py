"""Real files: --separator, a warning when a split looks wrong, mojibake repaired, the [UNK] rate,
and a tokenizer that never sees the held-out stories."""

import warnings

import pytest

from simplestories_interp.cli import _apply_separator, build_parser, main
from simplestories_interp.data.rows import build_rows
from simplestories_interp.data.sources import iter_stories, split_problem, with_separator
from simplestories_interp.errors import DataError

STORY = "Tom had a kite. He ran to the hill.\n\nThe wind took the kite up high. Tom laughed."


def _write(tmp_path, text: str, name: str = "s.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_separator_splits_at_every_occurrence(tmp_path):
    path = _write(tmp_path, "\n***\n".join([STORY] * 5))
    assert len(list(iter_stories(str(path)))) != 5  # by default: split at the blank lines inside the stories
    stories = list(iter_stories(with_separator(str(path), "***")))
    assert stories == [STORY] * 5


def test_separator_from_the_command_line(tmp_path):
    path = _write(tmp_path, "\n***\n".join([STORY] * 3))
    ns = build_parser().parse_args(["heads", "--data", str(path), "--separator", "***"])
    _apply_separator(ns)
    assert len(list(iter_stories(ns.data))) == 3
    with pytest.raises(DataError, match="applies to .txt"):
        with_separator("synthetic", "***")


def test_cli_separator_needs_data(capsys):
    assert main(["heads", "--separator", "***"]) == 2
    assert "--separator needs the story file" in capsys.readouterr().err


def test_a_wrong_looking_split_warns_with_counts(tmp_path):
    one = _write(tmp_path, "A long story without breaks. " * 1000, "one.txt")
    with pytest.warns(UserWarning, match="that one story has 28,999 characters"):
        list(iter_stories(str(one)))
    few_huge = _write(tmp_path, "\n\n".join(["Short story here, about a cat and a hat."] * 40
                                            + ["Huge. " * 400] * 2), "huge.txt")
    with pytest.warns(UserWarning, match=r"split at blank lines into 42 stories, but 2 of them are over 10x"):
        list(iter_stories(str(few_huge)))
    fine = _write(tmp_path, "\n<|endoftext|>\n".join([STORY] * 30), "fine.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(iter_stories(str(fine)))) == 30
    assert split_problem([500] * 30) is None and split_problem([500] * 30 + [9000]) is not None


def test_mojibake_is_repaired_not_deleted(tmp_path):
    path = _write(tmp_path, "Mia said, â€œLook at daddyâ€™s hat!â€\x9d It was fun â€” really.")
    (story,) = iter_stories(str(path))
    assert story == "Mia said, \"Look at daddy's hat!\" It was fun - really."


def test_unk_rate_is_measured_and_printed(tmp_path, synth_tokenizer, tiny_model, capsys):
    path = _write(tmp_path, "\n\n".join(["Tom has 100% of the ~~~ kites, said Mia."] * 20))
    rows = build_rows(str(path), synth_tokenizer, tiny_model.cfg.n_ctx, 20)
    assert 0 < rows.unk_rate < 1 and f"[UNK] rate {rows.unk_rate:.2%}" in rows.describe()
    from simplestories_interp.zoo.formats import save_native

    model_dir = save_native(tiny_model, tmp_path / "m")
    whole = build_rows(str(path), synth_tokenizer, tiny_model.cfg.n_ctx, 20, pad=True)  # heads and neurons read all
    for command in (["heads"], ["neurons", "--hook", "blocks.0.mlp.hook_post"]):
        assert main([*command, str(model_dir), "--data", str(path), "--n-stories", "20", "--device", "cpu"]) == 0
        assert f"[UNK] rate {whole.unk_rate:.2%}" in capsys.readouterr().out
    cache = ["cache", str(model_dir), "--hooks", "blocks.0.hook_resid_post", "--out", str(tmp_path / "store")]
    assert main([*cache, "--data", str(path), "--n-stories", "20", "--device", "cpu"]) == 0
    assert f"[UNK] rate {rows.unk_rate:.2%}" in capsys.readouterr().out  # the same rows, streamed


def test_tokenizer_never_trains_on_held_out_stories(tmp_path):
    """--n-stories above the file's count: the tokenizer gets exactly pack's training split."""
    from simplestories_interp.data.packing import load_rows, pack
    from simplestories_interp.data.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
    from simplestories_interp.training.export import tokenizer_stories

    stories = [f"Story {i}: Tom and Mia went to the park." for i in range(8)] + ["Zebras quizzically juxtapose."] * 2
    path = _write(tmp_path, "\n<|endoftext|>\n".join(stories))
    texts = tokenizer_stories(str(path), 100, 0.2)
    assert texts == stories[:8]
    save_tokenizer(train_tokenizer(texts, vocab_size=200), tmp_path / "tok")
    tokenizer = load_tokenizer(tmp_path / "tok")
    assert "juxtapose" not in tokenizer.get_vocab()
    packed = pack(str(path), tokenizer, 8, limit=100, val_fraction=0.2, out=tmp_path / "packed", progress=False)
    val_text = tokenizer.decode(load_rows(packed, "val").ravel().tolist())
    # the held-out split is exactly the two stories left out, whose letters the tokenizer never saw
    assert "tom" not in val_text and val_text.count("[UNK]") >= 4

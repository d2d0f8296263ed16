import hashlib
import json
import os

import numpy as np
import pytest

from simplestories_interp.data.packing import load_rows, pack, read_meta
from simplestories_interp.data.rows import story_ids
from simplestories_interp.data.sources import iter_stories
from simplestories_interp.data.tokenizer import EOS_ID, UNK_ID, fix_tokenizer, train_tokenizer
from simplestories_interp.errors import DataError, HubOfflineError, MissingDirectoryError


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tok():
    return fix_tokenizer(train_tokenizer(iter_stories("synthetic", limit=300), vocab_size=600))


def test_txt_separators_and_blank_lines(tmp_path):
    sep = tmp_path / "a.txt"
    sep.write_text("One story.\n\nSecond paragraph.\n<|endoftext|>\nAnother \u201cstory\u201d.\n")
    assert list(iter_stories(str(sep))) == ["One story.\n\nSecond paragraph.", 'Another "story".']
    blank = tmp_path / "b.txt"
    blank.write_text("First.\n\n\nSecond.\n")
    assert list(iter_stories(str(blank))) == ["First.", "Second."]


def test_jsonl_parquet_and_folders(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text(json.dumps({"text": "Hello there."}) + "\n")
    pq.write_table(pa.table({"story": ["From parquet."]}), tmp_path / "d" / "b.parquet")
    assert list(iter_stories(str(tmp_path / "d"))) == ["Hello there.", "From parquet."]


def test_bad_sources(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 story".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        list(iter_stories(str(bad)))
    with pytest.raises(MissingDirectoryError, match="synthetic"):
        list(iter_stories(str(tmp_path / "nope.txt")))
    (tmp_path / "x.jsonl").write_text(json.dumps({"title": "no story"}) + "\n")
    with pytest.raises(DataError, match="'story' or 'text'"):
        list(iter_stories(str(tmp_path / "x.jsonl")))
    with pytest.raises(HubOfflineError, match="synthetic"):
        list(iter_stories("hub"))


def test_packing_reconstructs_the_stream(tok):
    stories = list(iter_stories("synthetic:5", limit=50))
    out = pack("synthetic:5", tok, 64, limit=50, val_fraction=0.1, progress=False)
    meta = read_meta(out)
    train, val = load_rows(out, "train"), load_rows(out, "val")
    stream = [t for ids in story_ids(stories[:45], tok) for t in ids]
    assert train.shape == (len(stream) // 64, 64) and train.dtype == np.uint16
    assert train.reshape(-1).tolist() == stream[: train.size]
    assert train[0, 0] == EOS_ID and meta.rows["val"] == len(val) and meta.n_stories == 50
    assert pack("synthetic:5", tok, 64, limit=50, val_fraction=0.1, progress=False) == out  # reused


def test_unk_tokens_are_counted(tok, tmp_path):
    vocab = tok.get_vocab()
    assert "q" in vocab or "##q" in vocab
    text = tmp_path / "s.txt"
    text.write_text(("The quiz of [UNK]. " * 30 + "\n<|endoftext|>\n") * 4)
    meta = read_meta(pack(str(text), tok, 16, progress=False))
    ids = [t for s in iter_stories(str(text)) for t in tok.encode(s)]
    assert meta.unk_tokens == ids.count(UNK_ID) > 0


def test_empty_and_too_small(tok, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="no stories"):
        pack(str(empty), tok, 64, progress=False)
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("Hi.")
    with pytest.raises(DataError, match="fewer than one row"):
        pack(str(tiny), tok, 512, progress=False, val_fraction=0)
    with pytest.raises(DataError, match="endless"):
        pack("synthetic", tok, 64, progress=False)


def test_every_kind_of_rows_uses_the_tokenizers_separator(tok):
    """Packed, streamed, in-memory and annotated rows all cut the one stream of story_ids, whose
    separator comes from the tokenizer ([EOS] for SimpleStories, BOS/EOS of any other)."""
    from transformers import PreTrainedTokenizerFast

    from simplestories_interp.data.rows import build_rows, iter_row_batches, row_array

    other = PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer, bos_token="[UNK]", eos_token="[EOS]")
    for tokenizer, sep in ((tok, EOS_ID), (other, 0)):
        stream = [t for ids in story_ids(iter_stories("synthetic:5", limit=20), tokenizer) for t in ids]
        n = len(stream) // 32
        expected = np.asarray(stream[: n * 32]).reshape(n, 32)
        assert stream[0] == sep and np.array_equal(row_array("synthetic:5", tokenizer, 32, limit=20), expected)
        assert np.array_equal(np.concatenate(list(iter_row_batches("synthetic:5", tokenizer, 32, 7, limit=20))),
                              expected)
        assert np.array_equal(build_rows("synthetic:5", tokenizer, 32, 20).tokens, expected)
        packed = pack("synthetic:5", tokenizer, 32, limit=20, val_fraction=0.0, progress=False)
        assert np.array_equal(load_rows(packed, "train"), expected)


STORIES = "The cat sat on the mat and was happy.\n<|endoftext|>\nA dog ran to the park to play with a ball.\n"
EDITED = "The dog sat on the rug and was sleepy.\n<|endoftext|>\nA cat ran to the shop to look for a fish.\n"


def _pack_txt(source, tok):
    return pack(source, tok, 8, val_fraction=0.0, progress=False)


def test_editing_a_txt_file_repacks_even_with_same_size_and_mtime(tok, tmp_path):
    story = tmp_path / "stories.txt"
    story.write_text(STORIES * 5)
    first = _pack_txt(str(story), tok)
    old_rows = load_rows(first).copy()
    stat = story.stat()
    story.write_text(EDITED * 5)
    assert len(EDITED) == len(STORIES)
    os.utime(story, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # only the content hash tells them apart
    assert story.stat().st_size == stat.st_size and story.stat().st_mtime_ns == stat.st_mtime_ns
    second = _pack_txt(str(story), tok)
    assert second != first
    new_rows = load_rows(second)
    expected = [t for ids in story_ids(list(iter_stories(str(story))), tok) for t in ids]
    assert new_rows.reshape(-1).tolist() == expected[: new_rows.size]
    assert not np.array_equal(old_rows, new_rows)


def test_editing_a_file_in_a_folder_source_repacks(tok, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.txt").write_text(STORIES * 3)
    (folder / "b.jsonl").write_text(json.dumps({"story": "A bird sang in the tree all day long."}) + "\n")
    first = _pack_txt(str(folder), tok)
    (folder / "b.jsonl").write_text(json.dumps({"story": "A frog sat in the pond all day long."}) + "\n")
    assert _pack_txt(str(folder), tok) != first


def test_same_relative_name_in_different_folders_differs(tok, tmp_path, monkeypatch):
    packed = []
    for name, text in (("one", STORIES), ("two", EDITED)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "stories.txt").write_text(text * 5)
        monkeypatch.chdir(tmp_path / name)
        packed.append(_pack_txt("stories.txt", tok))
    assert packed[0] != packed[1]
    assert not np.array_equal(load_rows(packed[0]), load_rows(packed[1]))
    assert read_meta(packed[0]).source == read_meta(packed[1]).source == "stories.txt"


def test_unchanged_file_is_a_cache_hit(tok, tmp_path, monkeypatch):
    from simplestories_interp.data import packing

    story = tmp_path / "stories.txt"
    story.write_text(STORIES * 5)
    first = _pack_txt(str(story), tok)
    meta_mtime = (first / "meta.json").stat().st_mtime_ns

    def no_repack(*args, **kwargs):
        raise AssertionError("an unchanged source was packed again")

    monkeypatch.setattr(packing, "iter_stories", no_repack)
    monkeypatch.chdir(tmp_path)
    assert _pack_txt(str(story), tok) == first
    assert _pack_txt("stories.txt", tok) == first  # the same file named relatively
    assert (first / "meta.json").stat().st_mtime_ns == meta_mtime
    assert first.parent.parent == tmp_path / "cache"


def test_source_identity_kinds(tmp_path):
    from simplestories_interp.data.packing import CLEANING, source_identity
    from simplestories_interp.data.sources import HUB_DATASET

    assert source_identity("synthetic:3") == ["synthetic:3"]
    assert source_identity("hub") == source_identity(f"hub:{HUB_DATASET}") == ["hub", HUB_DATASET, CLEANING]
    (tmp_path / "s.txt").write_text("Hi.")
    kind, root, [[name, size, _, sha]], cleaning = source_identity(str(tmp_path / "s.txt"))
    assert cleaning == CLEANING and source_identity(str(tmp_path / "s.txt") + "::sep=***")[-1] == ["separator", "***"]
    assert (kind, root, name, size) == ("path", str((tmp_path / "s.txt").resolve()), "s.txt", 3)
    assert sha == hashlib.sha256(b"Hi.").hexdigest()
    with pytest.raises(MissingDirectoryError):
        source_identity(str(tmp_path / "nope.txt"))

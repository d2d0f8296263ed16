"""A story source is parsed once into a `Source`; every reader below takes the value, and the string comes back."""

import pytest

from simplestories_interp.data.packing import source_identity
from simplestories_interp.data.sources import HUB_DATASET, Source, iter_stories, with_separator
from simplestories_interp.errors import DataError


@pytest.mark.parametrize("text,kind,fields", [
    ("synthetic", "synthetic", {"seed": None}),
    ("synthetic-long:7", "synthetic-long", {"seed": 7}),
    ("synthetic-mix:0", "synthetic-mix", {"seed": 0}),
    ("hub", "hub", {"repo": None}),
    ("hub:me/my-stories", "hub", {"repo": "me/my-stories"}),
    ("stories.txt", "path", {"path": "stories.txt", "separator": None}),
    ("C:/data/stories.txt::sep=###", "path", {"path": "C:/data/stories.txt", "separator": "###"}),
    ("a::sep=", "path", {"path": "a", "separator": ""}),
])
def test_parse_gives_the_parts_and_the_string_back(text, kind, fields):
    src = Source.parse(text)
    assert src.kind == kind and all(getattr(src, k) == v for k, v in fields.items())
    assert str(src) == text and Source.parse(src) is src and Source.parse(str(src)) == src


@pytest.mark.parametrize("text", ["synthetic:abc", "synthetic:\u00b2", "synthetic-long:\u0663"])
def test_bad_seed_is_refused_when_parsed(text):
    with pytest.raises(DataError, match=r"non-negative integer, e.g. synthetic"):
        Source.parse(text)  # superscript and Arabic-Indic digits too (isdigit() accepts them)


def test_a_new_epoch_seeds_only_a_source_without_its_own_seed():
    assert str(Source.parse("synthetic").with_seed(3)) == "synthetic:3"
    assert str(Source.parse("synthetic:9").with_seed(3)) == "synthetic:9"
    assert Source.parse("x.txt").with_seed(3) == Source.parse("x.txt")
    assert Source.parse("hub").hub_repo == HUB_DATASET and Source.parse("hub:a/b").hub_repo == "a/b"


def test_readers_take_the_value_or_the_string(tmp_path):
    (tmp_path / "s.txt").write_text("one story\n###\nanother story")
    text = with_separator(str(tmp_path / "s.txt"), "###")
    assert text == f"{tmp_path / 's.txt'}::sep=###"
    assert list(iter_stories(text)) == list(iter_stories(Source.parse(text))) == ["one story", "another story"]
    assert source_identity(text) == source_identity(Source.parse(text))
    assert list(iter_stories("synthetic", limit=2)) == list(iter_stories(Source("synthetic"), limit=2))

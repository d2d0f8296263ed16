"""Long stories: lengths that fill a 512-token context, and the long-range reference annotations."""

import numpy as np
import pytest

from simplestories_interp import zoo
from simplestories_interp.data.corpus.long_stories import LONG_EVERY, MAX_CHAPTERS, generate_long_story
from simplestories_interp.data.rows import build_rows
from simplestories_interp.data.sources import iter_records, iter_stories
from simplestories_interp.data.tokenizer import load_tokenizer

STORIES = [generate_long_story(0, i) for i in range(40)]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(zoo.local_dir(zoo.get_spec("SynthStories-1.25M")))


def test_deterministic_and_distinct():
    assert generate_long_story(0, 3) == STORIES[3]
    assert generate_long_story(1, 3)["story"] != STORIES[3]["story"]
    assert len({r["story"] for r in STORIES}) == len(STORIES)


def test_lengths_fill_a_512_context(tokenizer):
    lengths = np.array([len(tokenizer(r["story"])["input_ids"]) for r in STORIES])
    assert np.median(lengths) >= 512 and lengths.min() >= 400, lengths
    assert all(3 <= r["num_chapters"] <= MAX_CHAPTERS for r in STORIES)
    assert all("long" in r["feature"] for r in STORIES)


def _spans(record, role=None, entity=None):
    return [a for a in record["annotations"] if (role is None or a["role"] == role)
            and (entity is None or a["entity"] == entity)]


def test_every_mention_points_to_the_first_mention():
    for r in STORIES:
        firsts = {}
        for a in r["annotations"]:
            if a["entity"] is None:
                assert "first" not in a
                continue
            firsts.setdefault(a["entity"], a["start"])
            assert a["first"] == firsts[a["entity"]] <= a["start"]


def test_long_range_devices_are_planted_early_and_resolved_late():
    for r in STORIES:
        text, chapters = r["story"], _spans(r, "chapter")
        last_chapter = chapters[-1]["start"]
        keeper = _spans(r, entity="keeper")
        names = [a for a in keeper if a["role"] in ("name_first", "name_later")]
        # The keeper is named in chapter one and then again only in the last chapter.
        assert names[0]["role"] == "name_first" and names[0]["start"] < chapters[1]["start"]
        assert all(a["start"] < chapters[1]["start"] or a["start"] > last_chapter for a in names)
        assert any(a["start"] > last_chapter for a in names)
        secret = _spans(r, "secret")
        assert len({text[a["start"]:a["end"]].lower() for a in secret}) == 1
        assert secret[0]["start"] < chapters[1]["start"] and secret[-1]["start"] > last_chapter
        catch = _spans(r, "catchphrase")
        assert len(catch) >= len(chapters) - 1  # said in chapter one and at the end of the others
        assert text[chapters[2]["start"]:chapters[2]["end"]] == "Chapter Three"


def test_sources_and_per_document_rows(tokenizer):
    assert [r["story"] for r in iter_records("synthetic-long", limit=2)] == [s["story"] for s in STORIES[:2]]
    mix = list(iter_records("synthetic-mix:0", limit=2 * LONG_EVERY))
    assert ["long" in r["feature"] for r in mix] == [i % LONG_EVERY == 0 for i in range(2 * LONG_EVERY)]
    assert next(iter_stories("synthetic-long:7")) == generate_long_story(7, 0)["story"]
    rows = build_rows("synthetic-long", tokenizer, 512, 10, per_document=True)
    assert (rows.tokens[:, 0] == rows.tokens[0, 0]).all()  # every row opens with the separator
    assert all(len(set(rows.story[i])) == 1 for i in range(len(rows.tokens)))  # one story per row
    assert rows.records is not None and "first" in rows.records[0]["annotations"][1]

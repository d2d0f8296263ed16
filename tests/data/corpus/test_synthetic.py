import re

import pytest

from simplestories_interp.data.corpus import lexicon as lx
from simplestories_interp.data.corpus.diversity import diversity_report
from simplestories_interp.data.corpus.synthetic import generate_stories, generate_story, write_shards

STORIES = list(generate_stories(300, seed=7))
NAMES = set(lx.GIRL_NAMES) | set(lx.BOY_NAMES)
HEADS = {
    "place": {p.split()[-1] for p in lx.PLACES},
    "object_noun": {o.replace("_", " ").split()[-1] for o in lx.OBJECTS},
    "verb": {v.replace("_", " ").split()[-1] for vs in lx.VERBS.values() for v in vs},
    "said_verb": {v for vs in lx.SAID.values() for v in vs},
    "adjective": {a for adjs in lx.ADJECTIVES.values() for a in adjs},
    "subject_pronoun": {"he", "she"},
    "object_pronoun": {"him", "her", "it"},
    "possessive_pronoun": {"his", "her"},
}


def test_deterministic_and_seeded():
    assert generate_story(7, 3) == STORIES[3]
    assert generate_story(8, 3)["story"] != STORIES[3]["story"]
    assert list(generate_stories(5, seed=7, start=10)) == [generate_story(7, i) for i in range(10, 15)]


@pytest.mark.parametrize("record", STORIES[:300:3], ids=lambda r: r["generation_id"])
def test_each_span_covers_the_word_it_labels(record):
    text = record["story"]
    seen_first: set = set()
    for a in record["annotations"]:
        word, role = text[a["start"]:a["end"]], a["role"]
        if role in HEADS:
            assert word.lower() in HEADS[role], (role, word)
        elif role in ("name_first", "name_later", "speaker") and word[0].isupper() and word in NAMES:
            if role == "name_first":
                assert a["entity"] not in seen_first
                seen_first.add(a["entity"])
            elif role == "name_later":
                assert a["entity"] in seen_first, "a later mention before the first"
        elif role == "speaker":
            assert word.lower() in ("he", "she")
        elif role == "dialogue":
            assert text[a["start"] - 1] == '"' and text[a["end"]] == '"'
        elif role in ("character_noun", "time"):
            assert re.fullmatch(r"[A-Za-z]+", word)
        else:
            pytest.fail(f"unexpected role {role!r} on {word!r}")
        if role == "speaker":
            assert re.match(r" (\w+)", text[a["end"]:])[1] in HEADS["said_verb"]


def test_labels_describe_the_story():
    for r in STORIES:
        assert r["num_paragraphs"] == len(r["story"].split("\n\n"))
        assert 1 <= r["num_paragraphs"] <= 9
        assert r["word_count"] == len(re.findall(r"[A-Za-z']+", r["story"]))
        assert r["theme"] in lx.THEMES and r["style"] in lx.STYLES
        assert ("dialogue" in r["feature"]) == any(a["role"] == "dialogue" for a in r["annotations"])
    assert {r["num_paragraphs"] for r in STORIES} == set(range(1, 10))
    assert len({r["arc"] for r in STORIES}) == 8


def test_pronouns_agree_with_the_character():
    for r in STORIES[:100]:
        text, names = r["story"], {}
        for a in r["annotations"]:
            if a["role"] == "name_first":
                names[a["entity"]] = text[a["start"]:a["end"]]
            if a["role"] == "subject_pronoun":
                gender = "female" if text[a["start"]:a["end"]].lower() == "she" else "male"
                name = names.get(a["entity"])
                if name in lx.GIRL_NAMES and name not in lx.BOY_NAMES:
                    assert gender == "female"
                elif name in lx.BOY_NAMES and name not in lx.GIRL_NAMES:
                    assert gender == "male"


def test_diversity_report():
    report = diversity_report(2000, seed=1, progress=False)
    assert report["duplicate_stories"] == 0
    assert report["distinct_words"] > 1000
    assert report["reachable_stories_lower_bound"] >= 1_000_000
    assert 0 < report["distinct_4gram_ratio"] < 1


def test_shards_load_with_datasets(tmp_path):
    import datasets

    paths = write_shards(25, seed=3, out=tmp_path, shard_size=10, progress=False)
    assert [p.name for p in paths] == [f"train-{i:05d}-of-00003.jsonl" for i in range(3)]
    ds = datasets.load_dataset("json", data_files=[str(p) for p in paths], split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert len(ds) == 25 and ds[4]["story"] == generate_story(3, 4)["story"]
    assert ds[4]["annotations"][0]["role"] in HEADS or ds[4]["annotations"][0]["role"].startswith("name")

"""The head figures' choices: which heads Fig. 19 shows beside the positional ones, and which query
Fig. 20 shows for a semantic head (an article reading the object, as in the paper)."""

import torch

from simplestories_interp import zoo
from simplestories_interp.analysis.config import DEFAULT_TEXT
from simplestories_interp.analysis.heads import MAX_OFFSET, HeadStats
from simplestories_interp.data.tokenizer import load_tokenizer
from simplestories_interp.studies.paper_heads import entity_query, fig19_heads, paragraph_entities


def _head(h: int, cls: str, argmax: dict[int, float], offset: int | None = None) -> HeadStats:
    hist = [argmax.get(o, 0.0) for o in range(MAX_OFFSET + 2)]
    return HeadStats(0, h, cls, offset, max(hist[:-1]), 0.5, 0.0, 0.5, 0.2, None, None, None, None,
                     [0.0] * (MAX_OFFSET + 1), hist)


def test_fig19_shows_the_positional_head_and_the_closest_at_other_offsets():
    heads = [_head(0, "mixed", {2: 0.30, 3: 0.20}), _head(1, "positional", {1: 0.99}, offset=-1),
             _head(2, "mixed", {2: 0.25, 3: 0.22}), _head(3, "semantic", {3: 0.05})]
    shown = [(s.head, o) for s, o in fig19_heads(heads)]
    assert shown == [(1, None), (0, 2), (2, 3)]  # -1 is covered; each head shown once
    assert [(s.head, o) for s, o in fig19_heads([h for h in heads if h.head != 1])] == [(0, 1), (2, 2), (3, 3)]


def test_paragraph_entities_line_up_with_the_tokens():
    tokenizer = load_tokenizer(zoo.SHIPPED_MODELS_DIR / "SynthStories-1.25M")
    tokens = ["[EOS]"] + tokenizer.tokenize(DEFAULT_TEXT)
    kinds = paragraph_entities(DEFAULT_TEXT, tokens, tokenizer)
    assert len(kinds) == len(tokens) and kinds[0] is None
    by_word = {t: k for t, k in zip(tokens, kinds, strict=True) if k}
    assert by_word["lily"] == "name" and by_word["ball"] == "object" and by_word["pond"] == "place"
    assert kinds[tokens.index("said")] is None


def test_entity_query_prefers_an_article_reading_an_entity():
    tokens = ["[EOS]", "lily", "found", "a", "ball", ".", "she", "ran", "to", "the", "tree", "and", "the"]
    kinds = [None, "name", None, None, "object", None, None, None, None, None, "object", None, None]
    n = len(tokens)
    pattern = torch.eye(n)
    pattern[7] = 0
    pattern[7, 1] = 1.0  # "ran" reads "lily" (all its attention, far back)
    pattern[12] = 0
    pattern[12, 4], pattern[12, 12] = 0.6, 0.4  # the last "the" reads "ball"
    query, mass = entity_query(pattern, tokens, kinds)
    assert query == 12 and abs(mass - 0.6) < 1e-6
    pattern[12, 4], pattern[12, 12] = 0.1, 0.9  # too little on entities: the best word instead
    assert entity_query(pattern, tokens, kinds)[0] == 7

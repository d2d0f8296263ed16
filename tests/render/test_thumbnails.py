"""The report's static figures: class grid colours, highlighted sentences, offset bars, histograms."""

import re

import torch

from simplestories_interp.analysis.patterns import text_tokens
from simplestories_interp.render import thumbnails as th


def test_class_grid_colours_each_class():
    records = [{"layer": 0, "head": h, "head_class": c, "offset": -1 if c == "positional" else None}
               for h, c in enumerate(["positional", "semantic", "mixed", "sink"])]
    grid = th.class_grid(records, 1, 4)
    cells = re.findall(r"background:(#[0-9a-f]{6})' title='L0H(\d): (\w+)'>([^<]*)<", grid)
    assert [(c, cls) for c, _, cls, _ in cells] == [(th.CLASS_COLORS[k], k) for k in th.CLASS_COLORS]
    assert cells[0][3] == "pos -1"


def test_highlighted_sentence_shades_by_attention_and_boxes_the_query():
    tokens = ["[EOS]", "lily", "saw", "the", "ball", "##s"]
    pattern = torch.zeros(6, 6)
    pattern[5, 1], pattern[5, 4] = 0.8, 0.2
    out = th.highlighted_sentence(tokens, pattern, 5)
    assert "rgba(228,87,86,1.00)' title='0.80'>lily" in out and "rgba(228,87,86,0.25)" in out
    assert "class='q'" in out and "<span class='q' title='0.00'>s</span>" in out  # "##s" joins "ball"
    assert "…" in th.highlighted_sentence(tokens, pattern, 5, start=2)


def test_pick_query_finds_the_far_focused_word():
    tokens = ["[EOS]", "lily", "ran", ".", "then", "she", "saw", "it", "!", "and", "lily"]
    pattern = torch.eye(11)
    pattern[10] = 0
    pattern[10, 1] = 1.0  # "lily" looks back at the first "lily"
    assert th.pick_query(pattern, tokens) == 10


def test_pick_query_on_a_short_text():
    assert th.pick_query(torch.eye(6), ["[EOS]", "a", "b", "c", "d", "e"]) == 5  # crashed on an empty slice


def test_svgs():
    bars = th.offset_bars([0.1] * 17 + [0.5])
    assert bars.count("<rect") == 18 and "far/first: 0.50" in bars
    hist = th.precision_histograms([0.9, 0.1], [0.1, 0.1], ("neurons", "random"))
    assert hist.count("<rect") == 2 * 10 + 2 and "random, precision 0.1-0.2: 100%" in hist


def test_head_figures_show_the_texts_own_spelling(tiny_model):
    """Head figures used to show the tokenizer's lowercased vocabulary strings ("lily", "[UNK]" for an
    apostrophe) while neuron views show the story's text; both now show the text (issue 25)."""
    text = 'One windy day, Lily\'s Dog ran. "Hi!" she said.'
    tokens = text_tokens(tiny_model, text)
    assert len(tokens) == len(tiny_model.to_str_tokens(text)) and tokens[0] == "[EOS]"
    assert tokens[1] == "One" and "one" in tiny_model.to_str_tokens(text)  # the vocabulary's string is lowercase
    pattern = torch.ones(len(tokens), len(tokens))
    shown = re.sub(r"<[^>]+>", "", th.highlighted_sentence(tokens, pattern, len(tokens) - 1))
    assert shown.replace("&#x27;", "'").replace("&quot;", '"') == "[EOS] " + text  # spacing as in the text
    assert th.pick_query(torch.eye(len(tokens)), tokens) > 0 and th.is_word("##Hi") and not th.is_word("##!")

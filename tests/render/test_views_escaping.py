"""Untrusted text (vocabulary entries, the user's text, model names and paths, hook names) is shown
in the HTML views, never interpreted: escaped in text and attributes, and JSON inside a script
cannot close the script element."""

import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from simplestories_interp import zoo
from simplestories_interp.analysis.neurons import Explanation, TopK
from simplestories_interp.data.rows import Rows
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.zoo.loading import build_model

SCRIPT = "</script><script>alert(1)</script>"
BOLD = "runs/<b>x</b> & 'co' \"q\""
COMMENT = "<!--<script>"
SEPARATORS = "line\u2028para\u2029end"
HOSTILE = (SCRIPT, BOLD, COMMENT, SEPARATORS)
TOKENS = (SCRIPT, "<b>x</b>&amp;'\"", COMMENT, SEPARATORS)  # vocabulary entries (no spaces)


class _Parsed(HTMLParser):
    """What a browser's tokenizer sees: start tags, script bodies, visible text and attribute values."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.scripts, self.text, self.attrs, self._in_script = [], [], [], [], False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v for _, v in attrs if v is not None]
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def _assert_no_raw(page: str, *strings: str) -> None:
    for s in strings:
        assert s not in page, f"raw {s!r} in the page"
    for raw in ("<script>alert", "<b>x</b>", "<!--<script>"):
        assert raw not in page


def _render_call(script: str, component: str) -> tuple[str, dict]:
    m = re.fullmatch(rf"CircuitsVis\.render\('(circuits-vis-[0-9a-f]+)', CircuitsVis\.{component}, (.*)\);", script,
                     flags=re.S)
    assert m, script[:200]
    payload = m.group(2)
    assert not set(payload) & set("<>&\u2028\u2029"), "unsafe characters left in the script's JSON"
    return m.group(1), json.loads(payload)


@pytest.mark.parametrize("value", [SCRIPT, BOLD, COMMENT, SEPARATORS, {"k<>": [1.5, None, "é</SCRIPT >"]}])
def test_json_for_script_round_trips(value):
    out = views.json_for_script(value)
    assert not set(out) & set("<>&\u2028\u2029")
    assert json.loads(out) == value


@pytest.fixture(scope="module")
def hostile_model():
    """A 1-layer model whose vocabulary holds the hostile strings as single tokens."""
    vocab = {"[UNK]": 0, "[EOS]": 1, "Tom": 2, "ran": 3, **{s: 4 + i for i, s in enumerate(TOKENS)}}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", eos_token="[EOS]",
                                        bos_token="[EOS]", pad_token="[UNK]")
    spec = zoo.ModelSpec(name=BOLD, n_layers=1, d_model=16, n_heads=2, d_head=8, n_key_value_heads=2, d_mlp=16,
                         d_vocab=len(vocab), n_ctx=16)
    torch.manual_seed(0)
    return build_model(spec, None, tokenizer, device="cpu")


TEXT = " ".join(["Tom", *TOKENS, "ran"])


@pytest.mark.parametrize("shared_js", [True, False])
def test_attention_view_keeps_hostile_tokens_inside_its_json(hostile_model, shared_js):
    tokens = hostile_model.to_str_tokens(TEXT)
    assert tokens == ["[EOS]", "Tom", *TOKENS, "ran"]  # each hostile string is one vocabulary entry
    body = views.attention_view(hostile_model, TEXT, [(0, 0), (0, 1)], shared_js=shared_js)
    page = views.page(f"Attention of {BOLD}", body)
    _assert_no_raw(page, *HOSTILE, *TOKENS)
    parsed = _Parsed(page)
    assert parsed.tags.count("script") == 2 and len(parsed.scripts) == 2
    if shared_js:
        assert parsed.scripts[0] == "" and "circuitsvis.js" in parsed.attrs
    else:
        assert len(parsed.scripts[0]) > 1_000_000 and "CircuitsVis" in parsed.scripts[0]  # the bundle, whole
    uid, props = _render_call(parsed.scripts[1], "AttentionHeads")
    assert uid in parsed.attrs  # the div it renders into
    assert props["tokens"] == tokens and props["attentionHeadNames"] == ["L0H0", "L0H1"]
    assert np.asarray(props["attention"]).shape == (2, len(tokens), len(tokens))
    assert html.escape(f"Attention of {BOLD}") in page and f"Attention of {BOLD}" in "".join(parsed.text)


def test_heads_heatmap_title_is_text(monkeypatch):
    records = [{"layer": 0, "head": h, "head_class": c, "offset": -1 if c == "positional" else None}
               for h, c in enumerate(["positional", "semantic"])]
    title = f"Heads of {BOLD} {SCRIPT}"
    page = views.page(title, views.heads_heatmap(records, 1, 2, title=title, shared_js=True))
    _assert_no_raw(page, *HOSTILE[:3])
    parsed = _Parsed(page)
    plot = next(s for s in parsed.scripts if "Plotly.newPlot" in s)
    shown = json.loads(re.search(r'"title":\{"text":("(?:[^"\\]|\\.)*")', plot).group(1))
    assert shown == html.escape(title)  # not plotly pseudo-HTML: plotly decodes the entities and shows it as typed


def _hostile_topk(hook: str = f"blocks.0.mlp.hook_post {SCRIPT}") -> TopK:
    story = " ".join(["Tom", *HOSTILE, "ran", "home."])
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", story)]
    n = len(spans) + 1
    start = np.array([[-1] + [a for a, _ in spans]])
    end = np.array([[-1] + [b for _, b in spans]])
    rows = Rows(tokens=np.arange(n)[None], story=np.zeros((1, n), dtype=int), start=start, end=end, stories=[story])
    values = torch.tensor([[3.0, 2.0, 1.0, 0.5]])
    return TopK(hook=hook, values=values, index=torch.tensor([[2, 3, 4, 5]]),
                sample_values=torch.linspace(0, 3, n)[:, None], sample_index=torch.arange(n), rows=rows,
                max_per_unit=values[:, 0])


def test_neuron_views_escape_tokens_titles_roles_and_logits():
    top = _hostile_topk()
    explanation = Explanation(unit=0, role=BOLD, precision=0.5, base_rate=0.1)
    logits = ([(SCRIPT, 1.0), (COMMENT, 0.5)], [(BOLD, -1.0), (SEPARATORS, -0.5)])
    section = views.neuron_section(top, 0, explanation=explanation, title=f"unit of {BOLD}", logits=logits,
                                   note=f" · {SCRIPT}")
    page = views.page(f"SAE features of {BOLD}", section)
    pages = [page, views.neurons_page(top, [0], explanations=[explanation], title=BOLD, intro=SCRIPT,
                                      titles={0: COMMENT})]
    for p in pages:
        _assert_no_raw(p, *HOSTILE[:3])
        parsed = _Parsed(p)
        assert "script" not in parsed.tags and parsed.scripts == []
        assert parsed.tags.count("b") == 1  # only the view's own <b> around the role
        text = "".join(parsed.text)
        for s in (SCRIPT, BOLD, COMMENT):
            assert s in text  # shown literally
    text = "".join(_Parsed(page).text)
    assert f"SAE features of {BOLD}" in text and f"unit of {BOLD}" in text and top.hook not in text


def test_thumbnails_escape_tokens_and_labels():
    top = _hostile_topk()
    pattern = torch.full((7, 7), 1 / 7)
    parts = [th.top_examples(views.unit_card(top, 0), n=4),
             th.highlighted_sentence(["[EOS]", *HOSTILE, "ran"], pattern, 5),
             th.precision_histograms([0.9, 0.1], [0.1], (SCRIPT, BOLD))]
    for part in parts:
        _assert_no_raw(part, *HOSTILE[:3])
        parsed = _Parsed(part)
        assert "script" not in parsed.tags and "b" not in parsed.tags
    assert SCRIPT in "".join(_Parsed(parts[0]).text) and BOLD in "".join(_Parsed(parts[1]).text)
    assert SCRIPT in "".join(_Parsed(parts[2]).text)  # in the bars' <title> and the legend


def test_feature_page_escapes_the_sae_path(tiny_model, tmp_path):
    from simplestories_interp.sae.config import SAEConfig
    from simplestories_interp.sae.features import feature_scan
    from simplestories_interp.sae.training import PROVENANCE, make_sae

    hook = "blocks.0.hook_resid_post"
    path = tmp_path / "runs" / "<b>x</b> & <script>alert(1)</script>"
    sae = make_sae(SAEConfig(model="tiny", hook=hook, d_sae=16, k=2, device="cpu"), 32,
                   {"model_name": "tiny", "hook_name": hook, "context_size": 64, "prepend_bos": True})
    sae.save_inference_model(str(path))
    (path / PROVENANCE).write_text(json.dumps({"hook": hook, "model": "tiny"}))
    scan = feature_scan(path, model=tiny_model, features=[0, 1], n_stories=3, device="cpu")
    assert str(path) in scan.text and len(scan.cards) == 2
    page = views.cards_page(scan.title, scan.cards)
    _assert_no_raw(page, "<script>alert(1)</script>")
    parsed = _Parsed(page)
    assert "script" not in parsed.tags
    assert f"SAE features of {path}" in "".join(parsed.text)

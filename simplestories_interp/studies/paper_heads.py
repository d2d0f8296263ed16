"""The measurements behind the TinyStories paper's head figures (Eldan & Li 2023, Fig. 19 and 20).

:func:`measure_heads` runs a 1-layer model once: every head's statistics and class over the corpus,
and the attention of the heads the figures show on the paragraph (their patterns, with the tokens
and the tagger's entities), so the pages (:mod:`.paper_heads_pages`) draw from ``results.json``
alone. The figures' choices live here as pure functions of those numbers:

* Fig. 19, distance-based heads: the heads classified positional, each at its offset, and beside
  them, for the nearest offsets no positional head covers (-1, -2, -3), the head that comes
  closest (:func:`fig19_heads`): the paper's "multi-scale" picture, measured.
* Fig. 20, semantic heads: each on the paragraph at the query where its attention beyond the
  local window lands most on the characters, the object or the places (:func:`entity_query`; an
  article first, as the paper's "the" attending to the object), entities tagged by the rule tagger.

Head statistics run on one story per row by default (``FigureConfig.head_rows``), as the paper
reads stories; ``packed`` reads training-style rows, where earlier stories are in view.
"""

from __future__ import annotations

from simplestories_interp.analysis.heads import HeadStats, as_records, head_statistics
from simplestories_interp.analysis.patterns import sentence_patterns
from simplestories_interp.data.rows import build_rows
from simplestories_interp.data.tagger import tag_records
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.studies.config import FigureConfig
from simplestories_interp.zoo.loading import load_model

NEAR_OFFSETS = (1, 2, 3)
"""Offsets (tokens back) at which Fig. 19 shows the closest head when no head is positional there."""
_ARTICLES = {"the", "a", "an"}
_KINDS = {"name": "name", "obj": "object", "place": "place"}


def count(items) -> str:
    counts: dict[str, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def near_text(s: HeadStats, o: int) -> str:
    """How close head ``s`` comes to being positional at offset -``o``."""
    return (f"closest to positional at offset -{o}: argmax there for {s.argmax_offsets[o]:.0%} of queries (a "
            f"positional head needs 90%), mean attention {s.offset_attention[o]:.2f} (Clark: 0.5)")


def describe(s: HeadStats) -> str:
    if s.head_class == "positional":
        return f"attends to offset {s.offset} (argmax there {s.positional_share:.0%} of the time)"
    best = max(range(1, len(s.offset_attention)), key=lambda o: s.offset_attention[o])
    if s.head_class == "mixed" and s.far_content < 0.5:
        return (f"local, not at one offset: argmax on one offset {s.positional_share:.0%} of the time, mean "
                f"attention {s.offset_attention[best]:.2f} to offset -{best}, {s.far_content:.0%} beyond the window")
    role = f", favouring {s.top_role} tokens" if s.top_role else ", no role above chance"
    return (f"{s.far_content:.0%} of its attention goes beyond the local window to content tokens{role}; "
            f"entity lift {views.fmt_or_na(s.entity_lift)}x, same-entity attention "
            f"{views.fmt_or_na(s.same_entity, '.2f')}")


def fig19_heads(layer0: list[HeadStats]) -> list[tuple[HeadStats, int | None]]:
    """The positional heads (offset None: shown at their own), then per uncovered near offset the
    head with the largest argmax share there (each head once)."""
    positional = sorted((s for s in layer0 if s.head_class == "positional"), key=lambda s: -(s.offset or 0))
    shown: list[tuple[HeadStats, int | None]] = [(s, None) for s in positional]
    covered = {-(s.offset or 0) for s in positional}
    for o in NEAR_OFFSETS:
        rest = [s for s in layer0 if all(s is not t for t, _ in shown)]
        if o not in covered and rest:
            shown.append((max(rest, key=lambda s: s.argmax_offsets[o]), o))
    return shown


def paragraph_entities(text: str, tokens: list[str], tokenizer) -> list[str | None]:
    """Per token of ``tokens`` (the model's tokens of ``text``, the BOS first): name, object, place
    or None, from the rule tagger; all None where the tokenizer's offsets do not line up."""
    spans = [(a["start"], a["end"], _KINDS[a["entity"].split(":")[0]])
             for a in tag_records([text])[0]["annotations"]
             if a.get("entity") and a["entity"].split(":")[0] in _KINDS]
    offsets = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    if len(offsets) != len(tokens) - 1:
        return [None] * len(tokens)
    return [None] + [next((k for a, b, k in spans if start < b and end > a), None) for start, end in offsets]


def entity_query(pattern, tokens: list[str], kinds: list[str | None], far: int = 3) -> tuple[int, float]:
    """(query, attention beyond ``far`` tokens back that lands on entities): the best article if one
    puts at least 0.3 there, else the best word token."""
    scores = {q: float(sum(pattern[q, k] for k in range(1, q - far) if kinds[k]))
              for q in range(far + 2, len(tokens)) if th.is_word(tokens[q])}
    if not scores:
        return len(tokens) - 1, 0.0
    articles = {q: v for q, v in scores.items() if tokens[q].lower() in _ARTICLES and v >= 0.3}
    pool = articles or scores
    q = max(pool, key=pool.get)
    return q, pool[q]


def semantic_heads(stats: list[HeadStats]) -> list[HeadStats]:
    """Layer 0's semantic heads, the highest entity lift first."""
    return sorted((s for s in stats if s.layer == 0 and s.head_class == "semantic"),
                  key=lambda s: -(s.entity_lift or 0.0))


def shown_heads(stats: list[HeadStats]) -> list[HeadStats]:
    """Every head a figure may show on the paragraph: Fig. 19's, Fig. 20's four semantic heads, and the
    three with the most far attention (Fig. 20 when no head is semantic)."""
    layer0 = [s for s in stats if s.layer == 0]
    candidates = ([s for s, _ in fig19_heads(layer0)] + semantic_heads(stats)[:4]
                  + sorted(layer0, key=lambda s: -s.far_content)[:3])
    return list({head_name(s): s for s in candidates}.values())


def head_name(s: HeadStats) -> str:
    return f"L{s.layer}H{s.head}"


def measure_heads(cfg: FigureConfig, device) -> dict:
    """Every head's statistics over the corpus, and the shown heads' attention on ``cfg.text``."""
    model = load_model(cfg.head_model, device=device)
    per_story = cfg.head_rows == "story"
    rows = build_rows(cfg.data, model.tokenizer, min(model.cfg.n_ctx, 512), cfg.head_stories,
                      per_document=per_story, pad=True)  # as `ssi heads`: a remainder in a padded row
    stats = head_statistics(model, rows, progress=True)
    tokens, patterns = sentence_patterns(model, cfg.text)
    # Causal patterns: row q stops at the diagonal; five decimals keep the file small and every shade.
    shown = {head_name(s): [[round(float(x), 5) for x in row[: q + 1]]
                            for q, row in enumerate(patterns[s.layer][s.head].tolist())] for s in shown_heads(stats)}
    return {"model": cfg.head_model, "shape": [model.cfg.n_layers, model.cfg.n_heads],
            "data": rows.describe() + ("" if per_story else ", packed rows as in training"),
            "records": as_records(stats),
            "paragraph": {"text": cfg.text, "tokens": tokens, "entities": paragraph_entities(cfg.text, tokens,
                                                                                             model.tokenizer),
                          "patterns": shown}}

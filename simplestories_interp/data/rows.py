"""Model-ready rows of tokens with what stands behind each token.

Analysis tools (neuron views, head statistics, activation stores) run a model over packed
rows, exactly as in training (stories joined by ``[EOS]``, rows of n_ctx tokens), and then
need to go back from a token to its story, its characters and its roles: annotated on the
synthetic corpus, written by the rule tagger (:mod:`.tagger`) on any other text. :func:`build_rows`
keeps that map; :func:`iter_row_batches` streams rows in bounded memory when only the ids are needed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from tokenizers import Encoding

from simplestories_interp.data.sources import Source, has_annotations, iter_records, iter_stories
from simplestories_interp.data.tagger import tag_records
from simplestories_interp.data.tokenizer import UNK_ID, raw_encoder, separator_id
from simplestories_interp.errors import DataError

_WORD = re.compile(r"\S+")


@dataclass
class Rows:
    """Rows of token ids plus, per token, its story and character span in that story."""

    tokens: np.ndarray
    """[rows, n_ctx] token ids."""
    story: np.ndarray
    """[rows, n_ctx] index into ``stories`` (the [EOS] before a story belongs to it; -1: padding after
    the end of a story, in padded one-story rows)."""
    start: np.ndarray
    """[rows, n_ctx] first character of the token in its story (-1 for [EOS])."""
    end: np.ndarray
    """[rows, n_ctx] end character (exclusive; -1 for [EOS])."""
    stories: list[str]
    """The story texts."""
    records: list[dict] | None = None
    """Per story, its annotations (and on the synthetic corpus its labels: topic, theme, ...)."""
    role_source: str = "annotations"
    """Where ``records``' annotations come from: ``annotations`` (the source's own), ``tagger`` (the
    rule tagger, on text without annotations) or ``none`` (no records)."""
    unk_id: int | None = UNK_ID
    """The tokenizer's [UNK] id (None: it has none, as GPT-2's byte-level BPE, whose id 0 is "!")."""
    left_out: int = 0
    """Tokens of the stories read that are in no row (the packed remainder that does not fill a last row,
    when it is not padded)."""
    _roles: dict | None = field(default=None, repr=False)

    @property
    def n_ctx(self) -> int:
        return self.tokens.shape[1]

    @property
    def in_story(self) -> np.ndarray:
        """[rows, n_ctx] True for the tokens of a story (False for padding)."""
        return self.story >= 0

    @property
    def n_tokens(self) -> int:
        """Tokens of stories (padding not counted)."""
        return int(self.in_story.sum())

    @property
    def has_labels(self) -> bool:
        """Whether the stories carry the source's own labels and annotations (synthetic corpus)."""
        return self.records is not None and self.role_source == "annotations"

    @property
    def unk_rate(self) -> float | None:
        """Share of the tokens that are [UNK] (text the tokenizer cannot spell); None without an [UNK]."""
        if self.unk_id is None:
            return None
        n = self.n_tokens
        return float(((self.tokens == self.unk_id) & self.in_story).sum() / n) if n else 0.0

    def describe(self) -> str:
        """One line: how much text, its [UNK] rate and where its roles come from (printed by every
        analysis command)."""
        source = {"annotations": "the source's annotations", "tagger": "the rule tagger (docs/roles.md)",
                  "none": "lexical roles only"}[self.role_source]
        unk = "n/a (the tokenizer has no [UNK])" if self.unk_rate is None else f"{self.unk_rate:.2%}"
        padded = "" if self.n_tokens == self.tokens.size else f" in {len(self.tokens)} padded rows"
        left = f" ({self.left_out:,} more left out: they do not fill a row)" if self.left_out else ""
        return (f"{self.n_tokens:,} tokens of {len(self.stories)} stories{padded}{left}, [UNK] rate {unk}, "
                f"roles from {source}")

    def context(self, row: int, pos: int, before: int = 12, after: int = 4) -> tuple[str, str, str]:
        """(text before, the token, text after) around a token, cut at word boundaries, with the
        story's own spacing and capitals; ``before``/``after`` count words."""
        s, a, b = self.story[row, pos], self.start[row, pos], self.end[row, pos]
        text = self.stories[s]
        if a < 0:
            a = b = 0
        starts = [m.start() for m in _WORD.finditer(text, 0, a)]
        ends = [m.end() for m in _WORD.finditer(text, b)]
        left = starts[-before] if before and len(starts) >= before else (0 if before else a)
        right = ends[min(after, len(ends)) - 1] if after and ends else b
        token = text[a:b] if b > a else "[EOS]"
        return text[left:a], token, text[b:right]

    def first_rows(self, n: int) -> Rows:
        """The first ``n`` rows (the stories and records stay, roles are recomputed for the subset)."""
        return dataclasses.replace(self, tokens=self.tokens[:n], story=self.story[:n], start=self.start[:n],
                                   end=self.end[:n], _roles=None)

    def semantic_roles(self) -> list[str]:
        """The roles present that are not token identity (names, objects, actions, ...; not dialogue,
        which spans whole quotes)."""
        return sorted(r for r in self.roles() if is_semantic_role(r))

    def roles(self) -> dict[str, np.ndarray]:
        """Per role, a [rows, n_ctx] bool mask of its tokens: the annotated roles (tokens inside
        such a span) plus lexical ones read off the token itself (article, preposition,
        punctuation, eos)."""
        if self._roles is None:
            self._roles = {**(_token_roles(self) if self.records else {}), **_lexical_roles(self)}
        return self._roles


def encode_stories(stories: Iterable[str], tokenizer, chunk: int = 256) -> Iterator[Encoding]:
    """Each story's encoding (whole: no truncation, no special tokens), encoded in chunks."""
    raw, stories = raw_encoder(tokenizer), iter(stories)
    while batch := list(islice(stories, chunk)):
        yield from raw.encode_batch(batch, add_special_tokens=False)


def story_ids(stories: Iterable[str], tokenizer) -> Iterator[list[int]]:
    """Per story, the separator (the token every story follows: ``[EOS]`` for SimpleStories
    tokenizers) and then its tokens: the stream that every kind of rows is cut from."""
    sep = separator_id(tokenizer)
    for enc in encode_stories(stories, tokenizer):
        yield [sep, *enc.ids]


def build_rows(source: str | Source, tokenizer, n_ctx: int, n_stories: int, *, annotated: bool | None = None,
               per_document: bool = False, pad: bool = False, tag: bool = True) -> Rows:
    """Tokenise ``n_stories`` stories of ``source`` into rows, keeping the token-to-text map.

    ``annotated=True`` also keeps labels and annotations (synthetic corpora or jsonl shards written by
    ``ssi data synth``); the default keeps them for the synthetic corpora, whose stories always have them.
    Otherwise the rule tagger writes the annotations (``tag=False``: none; roles are then lexical only).
    ``per_document=True`` makes one row per story instead of packing: ``[EOS]`` and the story's first
    ``n_ctx - 1`` tokens, so a token's position in the row is its position in the story (stories
    shorter than that are left out); the context-length study reads long stories this way.
    ``pad=True`` (with ``per_document``) keeps the shorter stories too, as the TinyStories paper reads
    them, one story alone in view: each row is cut to the longest story (at most ``n_ctx``) and the
    positions after a story's end are padding (story -1; see :attr:`Rows.in_story`). Packed,
    ``pad=True`` keeps the tokens that do not fill a last row, in a row padded at its end (causal
    attention: padding after a token cannot change it), and a corpus shorter than one row becomes one
    shorter row; without it they are left out (counted in :attr:`Rows.left_out`).
    """
    source = Source.parse(source)
    if annotated is None:
        annotated = has_annotations(source)
    records = list(iter_records(source, limit=n_stories)) if annotated else None
    stories = [r["story"] for r in records] if records else list(iter_stories(source, limit=n_stories))
    role_source = "annotations" if annotated else "tagger" if tag else "none"
    if not annotated and tag:
        records = tag_records(stories)
    encodings = list(encode_stories(stories, tokenizer))
    if pad and per_document:
        n_ctx = min(n_ctx, 1 + max((len(e.ids) for e in encodings), default=0))
    ids, story, start, end, sep = [], [], [], [], separator_id(tokenizer)
    for i, enc in enumerate(encodings):
        take = n_ctx - 1 if per_document else len(enc.ids)
        if len(enc.ids) < take:
            if not pad or not enc.ids:
                continue
            take = len(enc.ids)
        fill = n_ctx - 1 - take if per_document else 0
        ids += [sep, *enc.ids[:take], *[sep] * fill]
        story += [i] * (take + 1) + [-1] * fill
        start += [-1, *(o[0] for o in enc.offsets[:take])] + [-1] * fill
        end += [-1, *(o[1] for o in enc.offsets[:take])] + [-1] * fill
    if pad and not per_document:
        n_ctx = min(n_ctx, len(ids)) or n_ctx
        fill = -len(ids) % n_ctx
        ids, story, start, end = ids + [sep] * fill, story + [-1] * fill, start + [-1] * fill, end + [-1] * fill
    n = len(ids) // n_ctx
    if n == 0:
        what = (f"none has the {n_ctx - 1} tokens that a row of n_ctx={n_ctx} needs; use longer stories"
                if per_document else
                f"they give {len(ids)} tokens, fewer than one row of n_ctx={n_ctx}; use more stories")
        raise DataError(f"{len(stories)} stories of {str(source)!r}: {what}")

    def shape(x, dtype):
        return np.asarray(x[: n * n_ctx], dtype=dtype).reshape(n, n_ctx)

    left_out = sum(1 for s in story[n * n_ctx:] if s >= 0)
    return Rows(shape(ids, np.int64), shape(story, np.int32), shape(start, np.int32),
                shape(end, np.int32), stories, records, role_source, tokenizer_unk_id(tokenizer), left_out=left_out)


def tokenizer_unk_id(tokenizer) -> int | None:
    """The tokenizer's own [UNK] id, or None when it has none (or uses the separator for it, as GPT-2)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    return None if unk is None or unk == separator_id(tokenizer) else int(unk)


def _annotated_tokens(rows: Rows) -> Iterator[tuple[dict, np.ndarray]]:
    """(annotation, flat indices of the tokens overlapping its span) for every annotation."""
    if rows.records is None:
        raise DataError("token roles need an annotated source (the synthetic corpus)")
    flat_story, flat_start, flat_end = rows.story.ravel(), rows.start.ravel(), rows.end.ravel()
    order = np.argsort(flat_story, kind="stable")
    bounds = np.searchsorted(flat_story[order], np.arange(len(rows.stories) + 1))
    for s in range(len(rows.stories)):
        idx = order[bounds[s]:bounds[s + 1]]
        if idx.size == 0:
            continue
        a, b = flat_start[idx], flat_end[idx]
        for ann in rows.records[s]["annotations"]:
            hit = (a >= 0) & (a < ann["end"]) & (b > ann["start"])
            if hit.any():
                yield ann, idx[hit]


def _token_roles(rows: Rows) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    for ann, idx in _annotated_tokens(rows):
        masks.setdefault(ann["role"], np.zeros(rows.tokens.size, dtype=bool))[idx] = True
    return {role: m.reshape(rows.tokens.shape) for role, m in masks.items()}


_LEXICAL = {
    "article": {"a", "an", "the"},
    "preposition": {"to", "in", "at", "on", "with", "under", "near", "behind", "of", "for", "from",
                    "into", "by", "over", "around", "past", "toward", "across"},
    "conjunction": {"and", "but", "so", "because", "then", "or"},
}


# Roles that are the token's own identity (a lookup of the word), as opposed to what the word
# does in the story (names, objects, places, actions, speakers): reported apart by the neuron figure.
TOKEN_IDENTITY_ROLES = frozenset({*_LEXICAL, "punctuation", "eos"})


def is_semantic_role(role: str) -> bool:
    """Whether a role is what a word does in the story (not its identity, and not dialogue, which spans
    whole quotes)."""
    return role not in TOKEN_IDENTITY_ROLES and role != "dialogue"


def _lexical_roles(rows: Rows) -> dict[str, np.ndarray]:
    words = np.array([
        "" if a < 0 else rows.stories[s][a:b].lower()
        for s, a, b in zip(rows.story.ravel(), rows.start.ravel(), rows.end.ravel(), strict=True)
    ])
    out = {role: np.isin(words, sorted(vocab)) for role, vocab in _LEXICAL.items()}
    out["punctuation"] = np.array([bool(w) and not any(c.isalnum() for c in w) for w in words])
    out["eos"] = (rows.start.ravel() < 0) & rows.in_story.ravel()
    return {role: m.reshape(rows.tokens.shape) for role, m in out.items()}


# The synthetic corpora's entities that heads' entity statistics count (the long stories' keeper,
# secret word and catchphrase are annotated too, but are not characters, objects or places).
_ENTITIES = frozenset({"hero", "friend", "obj", "p", "p2"})


def entity_ids(rows: Rows) -> np.ndarray:
    """[rows, n_ctx] entity of each token (-1 if none): on the synthetic corpus the hero, the friend,
    the object and the places; from the tagger names (with the nouns "named" them) and nouns.

    Ids are unique per story, so two stories' heroes are different entities.
    """
    out = np.full(rows.tokens.size, -1, dtype=np.int64)
    if rows.records is None:
        return out.reshape(rows.tokens.shape)
    story = rows.story.ravel()
    ids: dict[tuple[int, str], int] = {}
    allowed = _ENTITIES if rows.role_source == "annotations" else None
    for ann, idx in _annotated_tokens(rows):
        entity = ann.get("entity")
        if entity is not None and ann["role"] != "dialogue" and (allowed is None or entity in allowed):
            out[idx] = ids.setdefault((int(story[idx[0]]), ann["entity"]), len(ids))
    return out.reshape(rows.tokens.shape)


def has_entities(rows: Rows) -> bool:
    """Whether any token of ``rows`` belongs to an entity (else entity statistics are undefined)."""
    return bool((entity_ids(rows) >= 0).any())


def iter_row_batches(source: str | Source, tokenizer, n_ctx: int, batch_rows: int, *,
                     limit: int | None = None, skip_rows: int = 0) -> Iterator[np.ndarray]:
    """Stream [batch_rows, n_ctx] id arrays (the last one may be shorter), bounded memory."""
    pending: list[int] = []
    batch: list[np.ndarray] = []
    produced = 0
    for ids in story_ids(iter_stories(source, limit=limit), tokenizer):
        pending += ids
        while len(pending) >= n_ctx:
            row, pending = pending[:n_ctx], pending[n_ctx:]
            produced += 1
            if produced <= skip_rows:
                continue
            batch.append(np.asarray(row, dtype=np.int64))
            if len(batch) == batch_rows:
                yield np.stack(batch)
                batch = []
    if batch:
        yield np.stack(batch)


def row_array(source: str | Source, tokenizer, n_ctx: int, *, limit: int | None) -> np.ndarray:
    """All rows of ``limit`` stories of ``source`` in memory, ``[rows, n_ctx]`` int64 (maybe 0 rows)."""
    batches = list(iter_row_batches(source, tokenizer, n_ctx, 256, limit=limit))
    return np.concatenate(batches) if batches else np.zeros((0, n_ctx), dtype=np.int64)

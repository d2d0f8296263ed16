"""Render sentence templates into text while recording word-level annotations.

A template is plain text with slots. Every slot that produces a word records a character
span with its role, so the corpus carries ground truth for neurons, SAE features and heads:

====================  =====================================  ==========================
slot                  renders                                roles recorded
====================  =====================================  ==========================
``{H}`` ``{F}``       a character's name                     ``name_first`` on the first
                                                             mention, else ``name_later``
``{H.he}``            subject pronoun (he/she)               ``subject_pronoun``
``{H.him}``           object pronoun (him/her)               ``object_pronoun``
``{H.his}``           possessive (his/her)                   ``possessive_pronoun``
``{H.kind}``          girl / boy / rabbit ...                ``character_noun``
``{O}`` ``{O.adj}``   the story's object and its adjective   ``object_noun``/``adjective``
``{O.it}``            "it" for the object                    ``object_pronoun``
``{P}`` ``{P2}``      places                                 ``place``
``{adj:KIND}``        a random adjective of a kind           ``adjective``
``{v:KIND}``          a random past-tense verb of a kind     ``verb``
``{said}``            a said-verb                            ``said_verb``; the name or
                                                             pronoun right before it also
                                                             gets ``speaker``
``<<`` ... ``>>``     a quotation                            ``dialogue`` (inside quotes)
``{X:LIST}``          a phrase from a lexicon list           none
``{time}``            a time phrase                          ``time``
``{a}``               the article a/an                       none
====================  =====================================  ==========================

``a`` before a vowel becomes ``an``; each sentence (and quotation) starts with a capital.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from simplestories_interp.data.corpus import lexicon as lx

_SLOT = re.compile(r"\{([^}]+)\}|<<|>>")
_PRONOUNS = {
    "female": {"he": "she", "him": "her", "his": "her"},
    "male": {"he": "he", "him": "him", "his": "his"},
}
_INNER_START = re.compile(r"[.!?] +\"?[a-z]")  # a sentence start inside one template
_SPEAKER_ROLES = {"name_first", "name_later", "subject_pronoun"}
_PRONOUN_ROLE = {"he": "subject_pronoun", "him": "object_pronoun", "his": "possessive_pronoun"}


@dataclass
class Character:
    name: str
    gender: str
    kind: str
    entity: str


@dataclass
class Span:
    start: int
    end: int
    role: str
    entity: str | None = None

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "role": self.role, "entity": self.entity}


@dataclass
class Cast:
    """What the slots refer to in one story."""

    chars: dict[str, Character]
    obj: str
    obj_adj: str
    places: list[str]
    rng: random.Random
    fixed: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Extra slots that always render the same words: ``{KEY}`` -> (text, role), one span with
    entity ``key`` lowercased (long stories' secret word and catchphrase)."""


@dataclass
class Writer:
    cast: Cast
    text: str = ""
    spans: list[Span] = field(default_factory=list)
    mentions: dict[str, int] = field(default_factory=dict)
    _mood: str = "statement"

    # -- low level -------------------------------------------------------------------------
    def _append(self, piece: str, role: str | None = None, entity: str | None = None) -> Span | None:
        if not piece:
            return None
        if piece[0].lower() in "aeiou" and re.search(r"(^|[\s\"])[aA] $", self.text[-3:] or ""):
            self.text = self.text[:-1] + "n "
        start = len(self.text)
        self.text += piece
        if role is None:
            return None
        span = Span(start, len(self.text), role, entity)
        self.spans.append(span)
        return span

    def _word(self, words: str, role: str, entity: str | None = None) -> Span | None:
        """Append possibly several words; the role goes to the last (the head word)."""
        *lead, head = words.replace("_", " ").split(" ")
        if lead:
            self._append(" ".join(lead) + " ")
        return self._append(head, role, entity)

    # -- slots -----------------------------------------------------------------------------
    def _slot(self, slot: str) -> Span | None:
        rng, cast = self.cast.rng, self.cast
        key, _, arg = slot.partition(":")
        who, _, attr = key.partition(".")
        if who in cast.chars:
            char = cast.chars[who]
            if not attr:
                n = self.mentions.get(char.entity, 0)
                self.mentions[char.entity] = n + 1
                return self._append(char.name, "name_first" if n == 0 else "name_later", char.entity)
            if attr == "kind":
                return self._word(char.kind, "character_noun", char.entity)
            return self._append(_PRONOUNS[char.gender][attr], _PRONOUN_ROLE[attr], char.entity)
        if key == "a":  # the article; _append turns it into "an" before a vowel
            return self._append("a")
        if key == "O":
            return self._word(cast.obj, "object_noun", "obj")
        if key == "O.it":
            return self._append("it", "object_pronoun", "obj")
        if key == "O.adj":
            return self._append(cast.obj_adj, "adjective")
        if key in ("P", "P2"):
            return self._word(cast.places[key == "P2"], "place", key.lower())
        if key == "adj":
            return self._append(rng.choice(lx.ADJECTIVES[arg]), "adjective")
        if key == "v":
            return self._word(rng.choice(lx.VERBS[arg]), "verb")
        if key == "said":
            return self._append(rng.choice(lx.SAID[self._mood]), "said_verb")
        if key == "time":
            return self._word(rng.choice(lx.TIMES), "time")
        if key == "X":
            return self._append(rng.choice(getattr(lx, arg)))
        if key in cast.fixed:
            word, role = cast.fixed[key]
            return self._append(word, role, key.lower())
        raise KeyError(f"unknown template slot {{{slot}}}")

    # -- sentences -------------------------------------------------------------------------
    def sentence(self, template: str) -> None:
        """Render one sentence template, capitalised, preceded by a space unless first."""
        if self.text and not self.text.endswith("\n"):
            self._append(" ")
        quoted = template.rsplit(">>", 1)[0][-1:] if ">>" in template else ""
        self._mood = {"?": "question", "!": "exclamation"}.get(quoted, "statement")
        start, pos, quote_start, last = len(self.text), 0, None, None
        for match in _SLOT.finditer(template):
            self._append(template[pos:match.start()])
            if match.group(0) == "<<":
                self._append('"')
                quote_start = len(self.text)
            elif match.group(0) == ">>":
                self._capitalise(quote_start)
                self.spans.append(Span(quote_start, len(self.text), "dialogue"))
                self._append('"')
            else:
                span = self._slot(match.group(1))
                if (match.group(1) == "said" and last is not None and last.end + 1 == span.start
                        and last.role in _SPEAKER_ROLES):
                    self.spans.append(Span(last.start, last.end, "speaker", last.entity))
                last = span
            pos = match.end()
        self._append(template[pos:])
        self._capitalise(start)
        for inner in _INNER_START.finditer(self.text, start):
            self._capitalise(inner.end() - 1)

    def _capitalise(self, at: int) -> None:
        if at < len(self.text):
            self.text = self.text[:at] + self.text[at].upper() + self.text[at + 1:]

    def heading(self, text: str, role: str) -> None:
        """A line of its own (a chapter title), annotated as a whole with ``role``."""
        self.paragraph_break()
        self._append(text, role)

    def paragraph_break(self) -> None:
        if self.text:
            self._append("\n\n")

"""Content roles of any English story, without annotations: a rule tagger.

The synthetic corpus comes with annotations (names, character and object nouns, places, verbs,
adjectives, pronouns, dialogue, speakers); users' own stories do not, and with only lexical
roles (articles, punctuation) every head and neuron that tracks content looks unlabelled. This
tagger writes the same annotations (same role names, character spans, entity keys) from the
text alone, so heads, neurons, SAE features and the report read tagged text exactly as they
read annotated text.

Why rules and not a statistical tagger: the PyPI taggers need models fetched from the network
at first use (spaCy's pipelines are GitHub downloads, NLTK's data is separate), which this
library's offline default cannot assume; children's stories are simple enough that word lists
(:mod:`.tagger_words`, plus the generator's :mod:`.lexicon` unless ``corpus_words=False``),
capitalisation and a few patterns ("a girl named Sue", "the big red ball", "said Sue") tag them
with measured precision (:func:`agreement`, docs/roles.md). The tagger reads only the text, never
the annotations it is measured against.

Entities: a name is one entity per story ("name:sue"), and a character noun introduced with
"named X" joins X's entity; other nouns and places are one entity per word ("obj:ball").
Pronouns get no entity (no coreference resolution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from simplestories_interp.data import tagger_words as general
from simplestories_interp.data.corpus import lexicon as corpus

ROLES = ("name_first", "name_later", "speaker", "character_noun", "object_noun", "place", "verb", "said_verb",
         "adjective", "subject_pronoun", "object_pronoun", "possessive_pronoun", "dialogue", "time")
"""The roles the tagger writes (the synthetic annotations' names)."""

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[.!?:]|\n|\"|[,;]")
_SUBJECT, _OBJECT, _POSSESSIVE = {"he", "she", "they"}, {"him", "them"}, {"his", "their", "its"}
_CLAUSE = {"and", "but", "so", "because", "when", "then", "if", "that"}
_TIME_CUES = {"one", "that", "every", "next", "this", "each", "all", "same", "the"}


@dataclass(frozen=True)
class Word:
    """A word of the story (a possessive or contraction cut at the apostrophe: "Sue's" -> "Sue")."""

    text: str
    start: int
    end: int
    sentence_start: bool
    """First word of a sentence or of a quote (capitals there say nothing about names)."""
    in_quote: bool

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass(frozen=True)
class Lexicon:
    """The word lists the tagger looks words up in (lower case; nouns singular)."""

    names: frozenset[str]
    people: frozenset[str]
    animals: frozenset[str]
    objects: frozenset[str]
    places: frozenset[str]
    verbs: frozenset[str]
    said: frozenset[str]
    adjectives: frozenset[str]

    def noun(self, word: str, kind: frozenset[str]) -> str | None:
        """``word``'s singular if it (or it as a plural) is in ``kind``."""
        for stem in (word, word[:-1], word[:-2], word[:-3] + "y"):
            if len(stem) > 1 and stem in kind and (stem == word or word.endswith("s")):
                return stem
        return None

    def is_verb(self, word: str) -> bool:
        if word in general.NOT_VERBS:
            return False
        return word in self.verbs or any(s in self.verbs for s in _verb_stems(word) if len(s) > 1)

    def known(self, word: str) -> bool:
        """Whether ``word`` is an ordinary English word of the lists (so a capital may just start a
        sentence)."""
        kinds = (self.people, self.animals, self.objects, self.places, self.adjectives)
        return (word in general.FUNCTION or word in general.TIMES or word in general.ABSTRACT
                or word in general.CALENDAR or self.is_verb(word) or word in self.said
                or any(self.noun(word, k) for k in kinds) or word.endswith("ly"))


def _verb_stems(word: str) -> set[str]:
    """The base forms ``word`` may inflect, each from the ending that makes it: -s/-es/-ies, -ed/-d/-ied
    (with a doubled consonant: "stopped"), -ing (likewise: "running")."""
    stems: set[str] = set()
    doubled = len(word) > 4 and word[-4] == word[-5]
    if word.endswith("ies") or word.endswith("ied"):
        stems.add(word[:-3] + "y")
    elif word.endswith("es"):
        stems |= {word[:-1], word[:-2]}
    elif word.endswith("s") and not word.endswith("ss"):
        stems.add(word[:-1])
    if word.endswith("ed"):
        stems |= {word[:-2], word[:-1]} | ({word[:-3]} if len(word) > 3 and word[-3] == word[-4] else set())
    if word.endswith("ing"):
        stems |= {word[:-3], word[:-3] + "e"} | ({word[:-4]} if doubled else set())
    return stems


def _corpus_words(*groups, head: int = -1) -> frozenset[str]:
    """Lower-cased words of the generator's lists; of a multi-word entry, the word at ``head`` (the
    noun of "toy shop", the verb of "picked up")."""
    words = set()
    for group in groups:
        for entry in (group.values() if isinstance(group, dict) else [group]):
            words |= {w.replace("_", " ").split()[head].lower() for w in entry}
    return frozenset(words - general.FUNCTION)


@cache
def lexicon(corpus_words: bool = True) -> Lexicon:
    """The general lists, plus (``corpus_words``) the synthetic generator's word lists."""
    extra = {
        "names": _corpus_words(corpus.GIRL_NAMES, corpus.BOY_NAMES),
        "people": _corpus_words(corpus.JOBS),
        "animals": _corpus_words(corpus.ANIMALS, corpus.BUGS),
        "objects": _corpus_words(corpus.OBJECTS, corpus.FOODS, corpus.CLOTHES, corpus.TOOLS, corpus.INSTRUMENTS,
                                 corpus.VEHICLES, corpus.FLOWERS),
        "places": _corpus_words(corpus.PLACES),
        "verbs": _corpus_words(corpus.VERBS, head=0),
        "said": _corpus_words(corpus.SAID),
        "adjectives": _corpus_words(corpus.ADJECTIVES),
    } if corpus_words else {}
    base = {"names": general.NAMES, "people": general.PEOPLE, "animals": general.ANIMALS,
            "objects": general.OBJECTS, "places": general.PLACES, "verbs": general.VERBS | general.IRREGULAR,
            "said": general.SAID, "adjectives": general.ADJECTIVES}
    merged = {k: frozenset(v | extra.get(k, frozenset())) for k, v in base.items()}
    merged["objects"] -= merged["places"] | merged["people"] | merged["animals"]
    return Lexicon(**merged)


def words(text: str) -> list[Word]:
    """The story's words with sentence starts and whether they are inside quotes."""
    out, start_next, in_quote = [], True, False
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token == '"':
            in_quote = not in_quote
            start_next = start_next or in_quote
        elif token in ".!?:\n":
            start_next = True
        elif token[0].isalpha():
            base = token.split("'")[0]
            out.append(Word(base, m.start(), m.start() + len(base), start_next, in_quote))
            start_next = False
    return out


def _dialogue(text: str) -> list[dict]:
    quotes = [m.start() for m in re.finditer('"', text)]
    spans = []
    for a, b in zip(quotes[::2], quotes[1::2], strict=False):
        inner = text[a + 1:b]
        lead = len(inner) - len(inner.lstrip())
        if inner.strip():
            spans.append(_ann(a + 1 + lead, a + 1 + len(inner.rstrip()), "dialogue", None))
    return spans


def _ann(start: int, end: int, role: str, entity: str | None) -> dict:
    return {"start": start, "end": end, "role": role, "entity": entity}


def _names(ws: list[Word], lex: Lexicon) -> set[str]:
    """Lower-cased words used as names: after "named"/"called", on the name lists, or capitalised
    inside a sentence without being an ordinary word."""
    found = set()
    for i, w in enumerate(ws):
        if not w.text[0].isupper() or w.lower in general.FUNCTION or len(w.text) < 2:
            continue
        after_named = i > 0 and ws[i - 1].lower in ("named", "called")
        if w.lower in general.CALENDAR:
            continue
        if after_named or w.lower in lex.names or (not w.sentence_start and not lex.known(w.lower)):
            found.add(w.lower)
    return found


class _Tagger:
    """One story's pass: each word gets at most one role (plus ``speaker`` next to a said-verb)."""

    def __init__(self, text: str, lex: Lexicon):
        self.text, self.lex, self.ws = text, lex, words(text)
        self.names = _names(self.ws, lex)
        self.seen: set[str] = set()
        self.bound: dict[str, str] = {}  # character noun -> the entity "named" gave it

    def run(self) -> list[dict]:
        out = _dialogue(self.text)
        roles = [self.role(i) for i in range(len(self.ws))]
        for i, (w, tag) in enumerate(zip(self.ws, roles, strict=True)):
            if tag is None:
                continue
            out.append(_ann(w.start, w.end, *tag))
            if tag[0] in ("name_first", "name_later", "subject_pronoun") and self._next_to_said(roles, i):
                out.append(_ann(w.start, w.end, "speaker", tag[1]))
        return sorted(out, key=lambda a: (a["start"], a["role"]))

    def _next_to_said(self, roles: list, i: int) -> bool:
        return any(0 <= j < len(roles) and roles[j] and roles[j][0] == "said_verb" for j in (i - 1, i + 1))

    def role(self, i: int) -> tuple[str, str | None] | None:
        w = self.ws[i]
        low = w.lower
        if w.text[0].isupper() and low in self.names:
            first = low not in self.seen
            self.seen.add(low)
            return ("name_first" if first else "name_later"), f"name:{low}"
        after_det = i > 0 and self._after_determiner(i)
        return (self._pronoun(i) or self._said(i) or self._noun(i, after_det)
                or self._adjective(i) or (None if after_det else self._verb(low)) or self._time(i)
                or self._open_noun(i, after_det))

    def _determiner(self, i: int) -> int | None:
        """The index of the determiner that word ``i`` ends a noun phrase of ("the big red ball"), if any."""
        j = i - 1
        while j >= 0 and self.ws[j].lower in self.lex.adjectives:
            j -= 1
        return j if j >= 0 and self.ws[j].lower in general.DETERMINERS else None

    def _after_determiner(self, i: int) -> bool:
        return self._determiner(i) is not None

    def _pronoun(self, i: int):
        low, nxt = self.ws[i].lower, self.ws[i + 1] if i + 1 < len(self.ws) else None
        if low in _SUBJECT:
            return "subject_pronoun", None
        if low in _POSSESSIVE or (low == "her" and nxt and self._adjacent(i) and nxt.lower not in general.FUNCTION):
            return "possessive_pronoun", None
        if low in _OBJECT or low == "her":
            return "object_pronoun", None
        if low == "it" and not self.ws[i].sentence_start and self.ws[i - 1].lower not in _CLAUSE:
            return ("object_pronoun", None) if not (nxt and self._adjacent(i) and self.lex.is_verb(nxt.lower)) else None
        return None

    def _adjacent(self, i: int) -> bool:
        """Whether word ``i + 1`` follows word ``i`` with only spaces between."""
        return self.text[self.ws[i].end:self.ws[i + 1].start].strip(" '") == ""

    def _said(self, i: int):
        w = self.ws[i]
        near = self.text[max(0, w.start - 40):w.end + 40]
        return ("said_verb", None) if w.lower in self.lex.said and '"' in near and not w.in_quote else None

    def _noun(self, i: int, after_det: bool):
        low = self.ws[i].lower
        if (who := self.lex.noun(low, self.lex.people) or self.lex.noun(low, self.lex.animals)) is not None:
            named = (i + 2 < len(self.ws) and self.ws[i + 1].lower in ("named", "called")
                     and self.ws[i + 2].text[0].isupper())
            if named:
                self.bound[who] = f"name:{self.ws[i + 2].lower}"
            return "character_noun", self.bound.get(who, f"char:{who}")
        if (where := self.lex.noun(low, self.lex.places)) is not None:
            return "place", f"place:{where}"
        if (what := self.lex.noun(low, self.lex.objects)) is not None and (after_det or not self.lex.is_verb(low)):
            return "object_noun", f"obj:{what}"
        return None

    def _adjective(self, i: int):
        low = self.ws[i].lower
        if low in self.lex.adjectives:
            return "adjective", None
        cue = i > 0 and self.ws[i - 1].lower in general.ADJECTIVE_CUES
        if cue and not self.lex.known(low) and low.endswith(("ful", "y", "ous", "ish", "ed")):
            return "adjective", None
        return None

    def _verb(self, low: str):
        return ("verb", None) if self.lex.is_verb(low) else None

    def _time(self, i: int):
        """A time word after a cue, with adjectives or other time words between: "one day", "one windy
        day", "every cold winter night"."""
        if self.ws[i].lower not in general.TIMES:
            return None
        j = i - 1
        while j >= 0 and self._adjacent(j) and (self.ws[j].lower in self.lex.adjectives
                                                or self.ws[j].lower in general.TIMES):
            j -= 1
        if j >= 0 and self._adjacent(j) and self.ws[j].lower in _TIME_CUES:
            return "time", None
        return None

    def _open_noun(self, i: int, after_det: bool):
        """An unlisted word after a determiner, before punctuation or a function word: a place after
        "to/in/at/... the", else an object."""
        w, low = self.ws[i], self.ws[i].lower
        if not after_det or self.lex.known(low) or len(low) < 3 or w.text[0].isupper():
            return None
        nxt = self.ws[i + 1] if i + 1 < len(self.ws) else None
        ends_phrase = nxt is None or not self._adjacent(i) or nxt.lower in general.FUNCTION
        if not ends_phrase:
            return None
        j = self._determiner(i)
        if j and self.ws[j - 1].lower in general.PREPOSITIONS_TO_PLACES:
            return "place", f"place:{low}"
        return "object_noun", f"obj:{low}"


def tag_story(text: str, *, corpus_words: bool = True) -> list[dict]:
    """Annotations of ``text`` as the synthetic corpus writes them: ``{"start", "end", "role",
    "entity"}`` (character offsets, one of :data:`ROLES`, an entity key or None), sorted."""
    return _Tagger(text, lexicon(corpus_words)).run()


def tag_records(stories: list[str], *, corpus_words: bool = True) -> list[dict]:
    """Records like the synthetic corpus's (``story`` and ``annotations``, no labels)."""
    return [{"story": s, "annotations": tag_story(s, corpus_words=corpus_words)} for s in stories]


def _overlaps(a: dict, spans: list[dict]) -> bool:
    return any(s["start"] < a["end"] and a["start"] < s["end"] for s in spans)


def agreement(records: list[dict], *, corpus_words: bool = True) -> dict[str, dict]:
    """Per role, the tagger against annotated ``records`` (it is given only their text).

    ``precision``: share of tagged spans that overlap an annotated span of the same role. The
    synthetic annotations mark only the story's cast, object, places and template words, so a
    correct tag of an unannotated word ("friend", "mom") counts against it: ``judged_precision``
    counts only tagged spans that overlap some annotation (of any role but dialogue), i.e. the role
    confusions. ``recall``: share of annotated spans that a tagged span of the role overlaps.
    ``name`` pools first and later mentions.
    """
    counts: dict[str, list[int]] = {}
    for record in records:
        tagged = tag_story(record["story"], corpus_words=corpus_words)
        judged = [a for a in record["annotations"] if a["role"] != "dialogue"]
        for role in (*ROLES, "name"):
            t = [a for a in tagged if _is(a, role)]
            g = [a for a in record["annotations"] if _is(a, role)]
            c = counts.setdefault(role, [0, 0, 0, 0, 0])
            c[0] += sum(_overlaps(a, g) for a in t)
            c[1] += len(t)
            c[2] += sum(_overlaps(a, t) for a in g)
            c[3] += len(g)
            c[4] += sum(_overlaps(a, g if role == "dialogue" else judged) for a in t)
    return {role: {"precision": _ratio(hit, n), "judged_precision": _ratio(hit, judged), "tagged": n,
                   "recall": _ratio(found, m), "annotated": m}
            for role, (hit, n, found, m, judged) in counts.items()}


def _is(annotation: dict, role: str) -> bool:
    return annotation["role"] in ("name_first", "name_later") if role == "name" else annotation["role"] == role


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None

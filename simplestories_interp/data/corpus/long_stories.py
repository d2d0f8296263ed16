"""Long stories: several chapters with one cast, written so that a long context pays off.

Why: ordinary synthetic stories are 50-400 tokens, so a 512-token window holds several of them
and nothing in it rewards looking more than a story back. The context-length study
(:mod:`simplestories_interp.studies.context_length`) needs documents that fill 512 tokens and
plant references that only a long context resolves. Each long story (source
``synthetic-long[:SEED]``) has 3 to 8 chapters (mostly 5) with the same hero, friend, object and places,
and three long-range devices:

* a **keeper**, an old animal with a name, met once in chapter one and named again only in the
  last chapter (``{K}``: roles ``name_first`` / ``name_later``, entity ``keeper``);
* a **question** posed in chapter one (who left the object by the second place?) and
  **answered** in the last chapter (the keeper), and a **secret word** told in chapter one and
  said again at the end (role ``secret``, entity ``s``);
* the hero's **catchphrase**, said in chapter one and repeated at the end of every chapter
  (role ``catchphrase``, entity ``c``); chapter titles get the role ``chapter``.

Annotations are those of ordinary stories plus, on every mention of an entity, ``first``: the
character offset of that entity's first mention (equal to ``start`` on the first mention), so
analyses can measure in tokens how far back a mention refers. Labels are the ordinary ones with
``feature`` including ``long`` and ``num_chapters`` added. Story ``i`` of seed ``s`` depends
only on ``(s, i)``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from simplestories_interp.data.corpus import lexicon as lx
from simplestories_interp.data.corpus.arcs import (
    ARCS,
    DESCRIBE,
    ENDINGS,
    FRIEND_INTRO,
    FRIEND_TALK,
    INTRO_HERO,
    INTRO_MORE,
)
from simplestories_interp.data.corpus.synthetic import make_cast, make_character, story_record
from simplestories_interp.data.corpus.writer import Writer

GENERATOR_ID = "ssi-synthetic-long-v1"
_CHAPTERS = ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight")
MAX_CHAPTERS = len(_CHAPTERS)
CATCHPHRASES = ("Never give up", "One step at a time", "Friends help friends", "Look twice and then jump",
                "A smile makes it better", "Slow and steady gets there", "Every day is a new day",
                "Try again tomorrow")
SECRET_WORDS = lx.FLOWERS + lx.SHAPES + lx.WEATHER
KEEPER_INTRO = (
    "On the way to the {P}, {H} met {a} old {K.kind} named {K}.",
    "Near the {P2} lived {a} wise old {K.kind} called {K}.",
    "One evening, {a} {adj:quality} old {K.kind} named {K} knocked on {H.his} window.",
)
SECRET_TOLD = (
    "{K} told {H} a secret word: <<{S}.>> <<Remember it,>> {K.he} {said}.",
    "<<If you ever need me, say {S},>> {K} whispered.",
)
QUESTION = (
    "The next morning, {H} found {a} {O.adj} {O} by the {P2}. Who had left it there?",
    "{H} wondered who had left the {O} by the {P2}. Nobody knew.",
)
CATCHPHRASE_FIRST = ("{H} always said, <<{C}.>>", "<<{C},>> {H} liked to say.")
CATCHPHRASE_AGAIN = ("<<{C},>> {H} {said} again.", "{H.he} remembered {H.his} words: <<{C}.>>",
                     "And as {H} always said, <<{C}.>>")
ANSWER = (
    "Now {H} knew who had left the {O} by the {P2}: it was {K} the {K.kind}, all along!",
    "At last the question was answered. It was old {K} who had left the {O} by the {P2}.",
)
SECRET_SAID = (
    "{H} remembered the secret word that {K} had told {H.him} long ago. <<{S}!>> {H.he} {said}.",
    "<<{S},>> {H} whispered, just as {K} had taught {H.him}.",
)


class _Pool:
    """Middle sentences drawn without replacement, reshuffled when used up (recurring phrases)."""

    def __init__(self, rng: random.Random, templates: tuple[str, ...]):
        self.rng, self.templates, self.left = rng, templates, []

    def take(self, n: int) -> list[str]:
        out = []
        for _ in range(n):
            if not self.left:
                self.left = list(self.templates)
                self.rng.shuffle(self.left)
            out.append(self.left.pop())
        return out


def _chapter_one(rng: random.Random, arc) -> list[list[str]]:
    intro = [rng.choice(INTRO_HERO), *([rng.choice(FRIEND_INTRO)] if arc.friend_intro else []),
             *rng.sample(INTRO_MORE, 2), rng.choice(CATCHPHRASE_FIRST)]
    keeper = [rng.choice(KEEPER_INTRO), rng.choice(SECRET_TOLD), rng.choice(QUESTION)]
    return [intro, keeper, list(arc.problem[: rng.randint(2, 3)])]


def _last_chapter(rng: random.Random, arc, pool: _Pool) -> list[list[str]]:
    resolution = list(arc.resolution[: rng.randint(2, 3)])
    return [[rng.choice(ANSWER), rng.choice(SECRET_SAID)], pool.take(rng.randint(3, 5)), resolution,
            [*rng.sample(ENDINGS, 2), rng.choice(CATCHPHRASE_AGAIN)]]


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z']+", text))


def _add_first_mentions(annotations: list[dict]) -> None:
    """Give every entity mention the character offset of the entity's first mention."""
    first: dict[str, int] = {}
    for ann in annotations:  # sorted by start
        if ann["entity"] is not None:
            ann["first"] = first.setdefault(ann["entity"], ann["start"])


def generate_long_story(seed: int, index: int) -> dict:
    """Long story ``index`` of seed ``seed``: text, labels and annotations (see the module docstring)."""
    rng = random.Random(f"long:{seed}:{index}")
    arc = rng.choice(ARCS)
    theme, style = rng.choice(arc.themes), rng.choice(lx.STYLES)
    cast = make_cast(rng)
    cast.chars["K"] = make_character(rng, "keeper", {c.name for c in cast.chars.values()}, animal_p=1.0)
    cast.fixed = {"S": (rng.choice(SECRET_WORDS), "secret"), "C": (rng.choice(CATCHPHRASES), "catchphrase")}
    # Sized (~1.5 tokens a word) so that the answer, which opens the last chapter, mostly falls
    # within the first 512 tokens and the story runs past them.
    words = rng.randint(250, 320)
    pool = _Pool(rng, tuple(t for p in arc.middle for t in p) + DESCRIBE + FRIEND_TALK)
    w = Writer(cast)
    chapters = 0

    def chapter(paragraphs: list[list[str]]) -> None:
        nonlocal chapters
        w.heading(f"Chapter {_CHAPTERS[chapters]}", "chapter")
        chapters += 1
        for paragraph in paragraphs:
            w.paragraph_break()
            for template in paragraph:
                w.sentence(template)

    chapter(_chapter_one(rng, arc))
    while chapters < MAX_CHAPTERS - 1 and (chapters < 2 or _words(w.text) < words):
        chapter([pool.take(rng.randint(3, 5)), [*pool.take(rng.randint(2, 4)), rng.choice(CATCHPHRASE_AGAIN)]])
    chapter(_last_chapter(rng, arc, pool))
    record = story_record(w, seed, index, arc, theme, style, ["long", "dialogue"], w.text.count("\n\n") + 1)
    _add_first_mentions(record["annotations"])
    record.update(num_chapters=chapters, generation_id=f"long-{seed}-{index}", model=GENERATOR_ID)
    return record


def generate_long_stories(n: int, seed: int = 0, start: int = 0) -> Iterator[dict]:
    """Long stories ``start .. start + n - 1`` with this seed."""
    for i in range(start, start + n):
        yield generate_long_story(seed, i)


LONG_EVERY = 5
"""In ``synthetic-mix``, story ``i`` is long when ``i % LONG_EVERY == 0`` (about half the tokens)."""


def generate_mixed_stories(n: int, seed: int = 0, start: int = 0) -> Iterator[dict]:
    """The ``synthetic-mix`` corpus: ordinary stories with every fifth one long (the training mix of
    the long-context models, docs/context_length.md)."""
    from simplestories_interp.data.corpus.synthetic import generate_story

    for i in range(start, start + n):
        yield generate_long_story(seed, i) if i % LONG_EVERY == 0 else generate_story(seed, i)

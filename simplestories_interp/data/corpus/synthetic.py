"""A seeded generator of SimpleStories-like children's stories with labels and annotations.

Why: the Hugging Face Hub is unreachable here (and for users behind firewalls), yet every
feature must run offline. This corpus is the embedded default: short stories in simple
English from eight narrative arcs (:mod:`.arcs`), with named characters and agreeing
pronouns, dialogue, places, objects, a problem and its resolution, endings and morals, in
1 to 9 paragraphs. Each story carries SimpleStories-style labels (``theme``, ``topic``,
``style``, ``feature``, ``num_paragraphs``, ``word_count``, ...) and word-level annotations
(``{start, end, role, entity}`` character spans, roles listed in :mod:`.writer`) that serve as
ground truth for neurons, SAE features and attention heads.

Story ``i`` of seed ``s`` depends only on ``(s, i)``, so shards can be generated in any order.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from simplestories_interp.data.corpus import lexicon as lx
from simplestories_interp.data.corpus.arcs import ARCS, ENDINGS, FRIEND_INTRO, INTRO_HERO, Arc
from simplestories_interp.data.corpus.writer import Cast, Character, Writer
from simplestories_interp.errors import DataError

GENERATOR_ID = "ssi-synthetic-v1"
# SimpleStories has 1-9 paragraphs; most of its stories have 2-5.
PARAGRAPH_WEIGHTS = (6, 14, 18, 18, 14, 10, 8, 6, 6)
_MORAL_TEMPLATES = (
    "{H} learned an important lesson that day: {moral}.",
    "And so {H} learned that {moral_lc}.",
    "The moral of the story is simple: {moral}.",
)


def make_character(rng: random.Random, entity: str, exclude: set[str], animal_p: float) -> Character:
    gender = rng.choice(("female", "male"))
    names = lx.GIRL_NAMES if gender == "female" else lx.BOY_NAMES
    name = rng.choice([n for n in names if n not in exclude])
    if rng.random() < animal_p:
        kind = rng.choice(lx.ANIMALS)
    else:
        kind = rng.choice(("girl", "little girl") if gender == "female" else ("boy", "little boy"))
    return Character(name, gender, kind, entity)


def make_cast(rng: random.Random) -> Cast:
    animal_p = 0.25
    hero = make_character(rng, "hero", set(), animal_p)
    friend = make_character(rng, "friend", {hero.name}, animal_p)
    return Cast(
        chars={"H": hero, "F": friend},
        obj=rng.choice(lx.OBJECTS),
        obj_adj=rng.choice(lx.ADJECTIVES[rng.choice(("color", "size", "texture", "quality"))]),
        places=rng.sample(lx.PLACES, 2),
        rng=rng,
    )


def _pick(rng: random.Random, pool: tuple[str, ...], k: int, ordered: bool = True) -> list[str]:
    k = min(k, len(pool))
    idx = rng.sample(range(len(pool)), k)
    return [pool[i] for i in (sorted(idx) if ordered else idx)]


def _beats(rng: random.Random, arc: Arc, style: str, n_paragraphs: int) -> list[list[str]]:
    """The story's beats (lists of sentence templates), at least ``n_paragraphs`` if possible."""
    short = style == "simple"
    intro = [rng.choice(INTRO_HERO)]
    if arc.friend_intro:
        intro.append(rng.choice(FRIEND_INTRO))
    intro += _pick(rng, arc.intro, rng.randint(0, 1 if short else 2), False)
    problem = _pick(rng, arc.problem, rng.randint(2, 3))
    resolution = _pick(rng, arc.resolution, rng.randint(2, 3))
    ending = _pick(rng, ENDINGS, rng.randint(1, 2), False)
    # Middle beats: each draws 2-3 unused sentences from one pool; style biases the pool.
    pools = [list(p) for p in arc.middle]
    for p in pools:
        rng.shuffle(p)
    preferred = {"dialogue-heavy": 1, "descriptive": 2}.get(style, 0)
    middles = []
    while len(middles) + 4 < n_paragraphs:
        order = [preferred] + [i for i in range(len(pools)) if i != preferred]
        pool = next((pools[i] for i in order if len(pools[i]) >= 2), None)
        if pool is None:
            break
        middles.append([pool.pop() for _ in range(min(len(pool), rng.randint(2, 3)))])
    if not middles and n_paragraphs >= 3:
        middles.append([pools[0].pop(), pools[0].pop()])
    return [intro, problem, *middles, resolution, ending]


def _merge(beats: list[list[str]], n: int) -> list[list[str]]:
    """Group consecutive beats into ``n`` paragraphs (as evenly as possible)."""
    n = max(1, min(n, len(beats)))
    bounds = [round(i * len(beats) / n) for i in range(n + 1)]
    return [sum(beats[a:b], []) for a, b in zip(bounds, bounds[1:], strict=False)]


def generate_story(seed: int, index: int) -> dict:
    """Story ``index`` of the corpus with seed ``seed``: text, labels and annotations."""
    rng = random.Random(f"{seed}:{index}")
    arc = rng.choice(ARCS)
    theme, style = rng.choice(arc.themes), rng.choice(lx.STYLES)
    n_paragraphs = rng.choices(range(1, 10), weights=PARAGRAPH_WEIGHTS)[0]
    cast = make_cast(rng)
    paragraphs = _merge(_beats(rng, arc, style, n_paragraphs), n_paragraphs)
    features = []
    if rng.random() < 0.35:
        moral = lx.MORALS[theme]
        paragraphs[-1].append(rng.choice(_MORAL_TEMPLATES).format(
            H="{H}", moral=moral, moral_lc=moral[0].lower() + moral[1:]))
        features.append("moral")
    if rng.random() < 0.15 and len(paragraphs[0]) > 1:
        paragraphs[min(1, len(paragraphs) - 1)].insert(0, "Can you guess what happened next?")
        features.append("question")
    w = Writer(cast)
    for paragraph in paragraphs:
        w.paragraph_break()
        for template in paragraph:
            w.sentence(template)
    if any(s.role == "dialogue" for s in w.spans):
        features.append("dialogue")
    if arc.twist:
        features.append("twist")
    return story_record(w, seed, index, arc, theme, style, features, len(paragraphs))


def story_record(w: Writer, seed, index, arc, theme, style, features, n_paragraphs) -> dict:
    text = w.text
    words = re.findall(r"[A-Za-z']+", text)
    sentences = max(1, len(re.findall(r"[.!?](?:\"|\s|$)", text)))
    return {
        "story": text,
        "topic": arc.topic,
        "theme": theme,
        "style": style,
        "feature": ", ".join(features) or "none",
        "arc": arc.name,
        "num_paragraphs": n_paragraphs,
        "word_count": len(words),
        "character_count": len(text),
        "avg_word_length": round(sum(map(len, words)) / max(1, len(words)), 3),
        "avg_sentence_length": round(len(words) / sentences, 3),
        "initial_letter": text[0].lower(),
        "generation_id": f"{seed}-{index}",
        "model": GENERATOR_ID,
        "annotations": [s.as_dict() for s in sorted(w.spans, key=lambda s: (s.start, s.end))],
    }


def generate_stories(n: int, seed: int = 0, start: int = 0) -> Iterator[dict]:
    """Stories ``start .. start + n - 1`` of the corpus with this seed."""
    for i in range(start, start + n):
        yield generate_story(seed, i)


BYTES_PER_STORY = 3500
"""Mean size of one story's JSON line with its annotations (measured: 3,504 bytes over 500 stories)."""


def write_shards(n_stories: int, seed: int, out: str | Path, shard_size: int = 10_000,
                 progress: bool = True, seed_per_shard: bool = False) -> list[Path]:
    """Write stories as JSON-lines shards that ``datasets.load_dataset("json", ...)`` reads.

    Shard i holds stories ``i * shard_size ...`` of ``seed``, or with ``seed_per_shard`` the first
    ``shard_size`` stories of seed ``seed + i`` (the paper-scale head model's corpus was written so,
    one process per shard). Each shard is written under a temporary name and renamed when complete.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    need, free = n_stories * BYTES_PER_STORY, shutil.disk_usage(out).free
    if need > free:  # refuse up front instead of writing until the disk is full
        raise DataError(f"{n_stories:,} stories need about {need / 2**30:,.1f} GiB (~{BYTES_PER_STORY:,} bytes each) "
                        f"but {str(out)!r} has {free / 2**30:,.1f} GiB free; write fewer --n-stories")
    n_shards = max(1, -(-n_stories // shard_size))
    paths = []
    bar = tqdm(total=n_stories, disable=not progress, desc="writing stories", unit=" stories")
    for shard in range(n_shards):
        start = shard * shard_size
        count = min(shard_size, n_stories - start)
        path = out / f"train-{shard:05d}-of-{n_shards:05d}.jsonl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            shard_seed, first = (seed + shard, 0) if seed_per_shard else (seed, start)
            for record in generate_stories(count, seed=shard_seed, start=first):
                f.write(json.dumps(record) + "\n")
        os.replace(tmp, path)
        paths.append(path)
        bar.update(count)
    bar.close()
    return paths

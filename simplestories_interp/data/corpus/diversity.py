"""How diverse the synthetic corpus is, measured (``ssi data stats``).

Reports the distinct words, a lower bound on the number of distinct stories the generator
can produce (the product of independent choices that each visibly change the text),
duplicates among the first N stories, the distinct-4-gram ratio and the length distribution.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import numpy as np
from tqdm.auto import tqdm

from simplestories_interp.data.corpus import lexicon as lx
from simplestories_interp.data.corpus.arcs import ARCS, ENDINGS, INTRO_HERO
from simplestories_interp.data.corpus.synthetic import PARAGRAPH_WEIGHTS, generate_stories
from simplestories_interp.data.rows import encode_stories
from simplestories_interp.data.sources import iter_stories

_WORD = re.compile(r"[A-Za-z']+")


def reachable_lower_bound() -> tuple[int, dict[str, int]]:
    """Product of choices that each appear verbatim in every story (so each changes the text)."""
    factors = {
        "arc": len(ARCS),
        "first sentence": len(INTRO_HERO),
        "hero name": len(set(lx.GIRL_NAMES) | set(lx.BOY_NAMES)),
        "hero kind": 4 + len(lx.ANIMALS),
        "paragraphs": len(PARAGRAPH_WEIGHTS),
        "ending": len(ENDINGS),
    }
    return int(np.prod(list(factors.values()), dtype=np.float64)), factors


def diversity_report(n_stories: int = 100_000, seed: int = 0, progress: bool = True) -> dict:
    words: Counter = Counter()
    hashes, grams, total_grams, lengths = set(), set(), 0, []
    labels: dict[str, Counter] = {k: Counter() for k in ("arc", "theme", "style", "num_paragraphs")}
    for record in tqdm(generate_stories(n_stories, seed=seed), total=n_stories,
                       disable=not progress, desc="generating", unit=" stories"):
        tokens = [w.lower() for w in _WORD.findall(record["story"])]
        words.update(tokens)
        hashes.add(hashlib.blake2b(record["story"].encode(), digest_size=16).digest())
        grams.update(zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False))
        total_grams += max(0, len(tokens) - 3)
        lengths.append(len(tokens))
        for key, counter in labels.items():
            counter[record[key]] += 1
    bound, factors = reachable_lower_bound()
    lengths_np = np.asarray(lengths)
    return {
        "stories": n_stories,
        "distinct_words": len(words),
        "reachable_stories_lower_bound": bound,
        "reachable_factors": factors,
        "duplicate_stories": n_stories - len(hashes),
        "distinct_4gram_ratio": round(len(grams) / max(1, total_grams), 4),
        "words_per_story": {q: int(np.percentile(lengths_np, p)) for q, p in
                            (("min", 0), ("p10", 10), ("median", 50), ("p90", 90), ("max", 100))},
        "mean_words": round(float(lengths_np.mean()), 1),
        "labels": {k: dict(sorted(v.items(), key=lambda kv: str(kv[0]))) for k, v in labels.items()},
    }


def token_lengths(source: str, tokenizer, n_stories: int) -> dict:
    """Distribution of story lengths in tokens (without the separator) over ``n_stories`` of ``source``."""
    lengths = np.array([len(e.ids) for e in encode_stories(iter_stories(source, limit=n_stories), tokenizer)])
    if not len(lengths):
        return {"source": source, "stories": 0}
    pct = dict(zip((5, 25, 50, 75, 95), np.percentile(lengths, [5, 25, 50, 75, 95]), strict=True))
    return {"source": source, "stories": len(lengths), "mean": round(float(lengths.mean()), 1),
            "min": int(lengths.min()), "max": int(lengths.max()), **{f"p{p}": int(v) for p, v in pct.items()},
            "share_512_or_more": round(float((lengths >= 512).mean()), 4)}

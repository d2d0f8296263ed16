"""The rule tagger against the synthetic corpus's annotations, per role (docs/roles.md).

The tagger is given only each story's text. Run twice: with the generator's word lists and with
the general lists alone (what a user's own text gets for words outside them).

    python experiments/tagger_precision.py --stories 500 --out docs/results/tagger_precision.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simplestories_interp.data.sources import iter_records
from simplestories_interp.data.tagger import agreement


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def table(results: dict) -> str:
    full, general = results["with_corpus_words"], results["general_words_only"]
    lines = ["| role | annotated | precision | judged precision | recall | general lists only: judged precision "
             "| recall |", "|---|---|---|---|---|---|---|"]
    for role, s in full.items():
        g = general[role]
        lines.append(f"| {role} | {s['annotated']} | {_fmt(s['precision'])} | {_fmt(s['judged_precision'])} | "
                     f"{_fmt(s['recall'])} | {_fmt(g['judged_precision'])} | {_fmt(g['recall'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=500)
    parser.add_argument("--data", default="synthetic:7", help="an annotated source (held out from the models' seed 0)")
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    records = list(iter_records(args.data, limit=args.stories))
    results = {"data": args.data, "stories": len(records),
               "with_corpus_words": agreement(records, corpus_words=True),
               "general_words_only": agreement(records, corpus_words=False)}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()

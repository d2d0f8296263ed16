"""Reproduce the TinyStories paper's interpretability figures (Fig. 19, 20, 21).

    python experiments/tinystories_figures.py --out report [--head-model M] [--neuron-model M]

The same as ``ssi reproduce tinystories``; see ``docs/figures.md``. Offline it uses the shipped
models (SynthStories-1L for heads, SynthStories-1.25M for neurons); online, pass the paper's
own models, e.g. ``--head-model roneneldan/TinyStories-1Layer-21M --neuron-model
roneneldan/TinyStories-1M --data hub`` (their tokenizer has no [EOS] handling to fix).
"""

import sys

from simplestories_interp.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "tinystories", *sys.argv[1:]]))

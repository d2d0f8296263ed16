"""The context-length study as a script: the same as ``ssi reproduce context-length``.

What features are unique to longer prompts, and how much do SAEs trained on shorter contexts
miss? See docs/context_length.md for the method and a measured run.

    python experiments/context_length.py --out context_length/                 # defaults (~12 min, 2 cores)
    python experiments/context_length.py --model SimpleStories-35M \\
        --short-models none --windows 64 128 512 --sae.tokens 4000000 --out cl-35M/     # an official model (hub)
"""

import sys

from simplestories_interp.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "context-length", *sys.argv[1:]]))

"""A TinyStories report built once from tiny models (shared by the report and browser tests).

The models are rebuilt exactly as for the fixture in fixtures/tinystories/ (written by the
measure-and-render-in-one-pass layout before the study moved onto results.json): the fixture's
tokenizer (a trained WordPiece tokenizer numbers its alphabet differently in each process, so it
is stored, not retrained) and seeded random weights.
"""

from pathlib import Path

import pytest
import torch

from simplestories_interp.cli import main
from simplestories_interp.data.tokenizer import load_tokenizer
from simplestories_interp.zoo.formats import save_native
from simplestories_interp.zoo.loading import build_model
from simplestories_interp.zoo.registry import ModelSpec

TINYSTORIES_FIXTURE = Path(__file__).parent / "fixtures" / "tinystories"
TEXT = "Tom and Mia looked for the ball in the park. </script> Mia ran."
_NEURONS = ModelSpec(name="tiny-synth", n_layers=2, d_model=32, n_heads=4, d_head=8, n_key_value_heads=2, d_mlp=48,
                     d_vocab=600, n_ctx=64)
_HEADS = ModelSpec(name="tiny-1L", n_layers=1, d_model=32, n_heads=8, d_head=4, n_key_value_heads=8, d_mlp=48,
                   d_vocab=600, n_ctx=64)


def _model(spec: ModelSpec, seed: int, folder: Path) -> Path:
    torch.manual_seed(seed)
    return save_native(build_model(spec, None, load_tokenizer(TINYSTORIES_FIXTURE / "tokenizer"), device="cpu"),
                       folder)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """(exit code, summary.txt, report folder) of `ssi reproduce tinystories` on a random 1-layer and 2-layer model."""
    tmp = tmp_path_factory.mktemp("report")
    neurons_dir, heads_dir = _model(_NEURONS, 0, tmp / "n"), _model(_HEADS, 1, tmp / "h")
    code = main(["reproduce", "tinystories", "--out", str(tmp / "report"), "--head-model", str(heads_dir),
                 "--neuron-model", str(neurons_dir), "--neuron-stories", "8", "--head-stories", "6",
                 "--device", "cpu", "--text", TEXT])
    return code, (tmp / "report" / "summary.txt").read_text(), tmp / "report"

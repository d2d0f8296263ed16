"""A report built once from tiny models (shared by the report and browser tests)."""

import pytest

from simplestories_interp.cli import main
from simplestories_interp.zoo.formats import save_native
from simplestories_interp.zoo.loading import build_model
from simplestories_interp.zoo.registry import ModelSpec


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory, tiny_model, synth_tokenizer):
    """(exit code, stdout, report folder) of `ssi reproduce tinystories` on a random 1-layer and 2-layer model."""
    tmp = tmp_path_factory.mktemp("report")
    one_layer = ModelSpec(name="tiny-1L", n_layers=1, d_model=32, n_heads=8, d_head=4,
                          n_key_value_heads=8, d_mlp=48, d_vocab=600, n_ctx=64)
    heads_dir = save_native(build_model(one_layer, None, synth_tokenizer, device="cpu"), tmp / "h")
    neurons_dir = save_native(tiny_model, tmp / "n")
    code = main(["reproduce", "tinystories", "--out", str(tmp / "report"), "--head-model", str(heads_dir),
                 "--neuron-model", str(neurons_dir), "--neuron-stories", "8", "--head-stories", "6",
                 "--device", "cpu", "--text", "Tom and Mia looked for the ball in the park. </script> Mia ran."])
    return code, (tmp / "report" / "summary.txt").read_text(), tmp / "report"

"""The TinyStories paper's own checkpoints (GPT-Neo) through the library, offline: tiny stand-ins under
their hub names (tests.helpers.paper_checkpoints) in a temporary HF cache, HF_HUB_OFFLINE=1."""

import json
import re

import pytest
import torch
from transformers import GPTNeoForCausalLM

from simplestories_interp.analysis.heads import attention_window, head_statistics
from simplestories_interp.analysis.neurons import direction_logit_effect, logit_effect
from simplestories_interp.analysis.patterns import text_tokens
from simplestories_interp.cli import main
from simplestories_interp.zoo.loading import load_model
from tests.helpers import NEO_WINDOW, PAPER_HEADS, PAPER_NEURONS

STORY = ("Once upon a time, Lily went to the park with her dog Max. They played with a red ball all day long, "
         "and when the sun went down, Lily said: \"Max, it is time to go home!\"")


@pytest.mark.parametrize("name", [PAPER_HEADS, PAPER_NEURONS])
def test_logits_match_gpt_neo_beyond_the_local_window(use_paper_hub, name):
    model = load_model(name, device="cpu")
    snapshot = next((use_paper_hub / ("models--" + name.replace("/", "--")) / "snapshots").iterdir())
    hf = GPTNeoForCausalLM.from_pretrained(str(snapshot)).eval()
    tokens = model.to_tokens(STORY)
    assert tokens.shape[1] > 4 * NEO_WINDOW and tokens[0, 0] == model.tokenizer.eos_token_id  # BOS once
    assert tokens[0, 1] != model.tokenizer.eos_token_id
    with torch.no_grad():
        assert (model(tokens) - hf(tokens).logits).abs().max() < 1e-4
    assert model.cfg.n_ctx == 512  # the trained context, not the config's 2048 positions


def test_local_layers_are_known_and_tokens_read_as_text(use_paper_hub):
    model = load_model(PAPER_NEURONS, device="cpu")
    assert [attention_window(model, layer) for layer in range(4)] == [None, NEO_WINDOW, None, NEO_WINDOW]
    tokens = text_tokens(model, STORY)
    shown = "".join(t[2:] if t.startswith("##") else " " + t for t in tokens[1:] if t != "␣")
    assert " ".join(shown.split()) == STORY and tokens[0] == "<|endoftext|>"  # no "Ġ"; spaces where the text has them
    assert len(tokens) == model.to_tokens(STORY).shape[1]


def test_logit_effects_read_through_the_layernorm_and_spell_tokens(use_paper_hub):
    """LayerNorm centres what it reads: a constant direction has no effect on the logits; labels are text."""
    model = load_model(PAPER_NEURONS, device="cpu")
    best, worst = direction_logit_effect(model, torch.ones(model.cfg.d_model))
    assert all(abs(v) < 1e-5 for _, v in best + worst)
    best, _ = logit_effect(model, 1, 0, n=50)
    assert not any("Ġ" in t for t, _ in best)


def test_head_statistics_of_a_local_layer(use_paper_hub):
    model = load_model(PAPER_NEURONS, device="cpu")
    stats = head_statistics(model, source="synthetic:5", n_stories=4, per_story=True)
    assert len(stats) == 16 and all(0 <= s.far_content <= 1 and 0 <= s.entropy <= 1.0001 for s in stats)


@pytest.mark.slow
def test_the_main_job_on_the_papers_checkpoints(use_paper_hub, tmp_path):
    out = tmp_path / "report"
    assert main(["reproduce", "tinystories", "--out", str(out), "--head-model", PAPER_HEADS, "--neuron-model",
                 PAPER_NEURONS, "--head-stories", "6", "--neuron-stories", "8", "--device", "cpu"]) == 0
    heads = json.loads((out / "heads.json").read_text())
    assert len(heads) == 4 and {h["layer"] for h in heads} == {0}
    roles = json.loads((out / "neuron_roles.json").read_text())
    assert list(roles) == [f"blocks.{i}.mlp.hook_post" for i in range(4)]
    assert len(roles["blocks.0.mlp.hook_post"]) == 128  # d_mlp = 4 x d_model
    summary = (out / "summary.txt").read_text()
    assert f"Heads ({PAPER_HEADS})" in summary and "the tokenizer has no [UNK]" in summary
    results = json.loads((out / "results.json").read_text())
    tokens = results["heads"]["paragraph"]["tokens"][1:]
    shown = " ".join("".join(t[2:] if t.startswith("##") else " " + t for t in tokens if t != "␣").split())
    assert shown.startswith("One day, Lily and Max went to the park")  # the text's own spelling, cased
    for page in out.glob("*.html"):
        text = page.read_text()
        assert "Ġ" not in text and not re.search(r"src=[\"']https?://", text), page.name


@pytest.mark.slow
def test_every_command_takes_the_paper_names(use_paper_hub, tmp_path):
    common = ["--device", "cpu"]
    assert main(["heads", PAPER_HEADS, "--n-stories", "3", "--out", str(tmp_path / "heads"), *common]) == 0
    assert main(["neurons", PAPER_NEURONS, "--hook", "blocks.1.mlp.hook_post", "--n-stories", "3",
                 "--out", str(tmp_path / "neurons"), *common]) == 0
    assert main(["cache", PAPER_NEURONS, "--hooks", "blocks.1.hook_resid_post", "--n-stories", "3",
                 "--out", str(tmp_path / "store"), *common]) == 0
    assert main(["sae", "train", "--model", PAPER_NEURONS, "--hook", "blocks.1.hook_resid_post", "--tokens", "4096",
                 "--batch-size", "512", "--expansion", "2", "--k", "4", "--eval-stories", "2",
                 "--density-stories", "2", "--out", str(tmp_path / "sae"), *common]) == 0
    assert (tmp_path / "sae" / "metrics.json").is_file() and (tmp_path / "store").is_dir()

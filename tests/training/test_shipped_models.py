"""Every model shipped in models/ loads by name, offline, and matches its model card."""

import json

import pytest

import simplestories_interp as ssi
from simplestories_interp import zoo

SHIPPED = sorted(p.name for p in zoo.SHIPPED_MODELS_DIR.iterdir()
                 if p.is_dir() and (p / "training_config.json").is_file())


def test_the_default_model_is_shipped():
    assert ssi.DEFAULT_MODEL in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_by_name_and_val_loss_matches_card(name):
    model = ssi.load_model(name, device="cpu")
    directory = zoo.SHIPPED_MODELS_DIR / name
    card = json.loads((directory / "training_config.json").read_text())
    assert model.cfg.n_ctx == card["n_ctx"] == zoo.get_spec(name).n_ctx
    assert sum(p.stat().st_size for p in directory.iterdir()) <= 10 * 2**20
    assert card["final"]["val_loss"] is not None and card["command"].startswith(("ssi train", "ssi noln"))
    loss = ssi.eval_loss(model, "synthetic:2026", n_stories=300, max_rows=64)
    assert abs(loss - card["final"]["val_loss"]) <= 0.05, (loss, card["final"]["val_loss"])
    assert "val loss" in (directory / "README.md").read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_generates_english(name):
    text = ssi.generate(ssi.load_model(name, device="cpu"), "Once upon a time", max_new_tokens=30,
                        temperature=0)
    assert text.startswith("once upon a time") and len(text.split()) > 8

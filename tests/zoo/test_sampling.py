import pytest
import torch

import simplestories_interp as ssi
from simplestories_interp.errors import InvalidArgumentError


@pytest.fixture
def model(tiny_checkpoint):
    return ssi.load_model(tiny_checkpoint[0], device="cpu")


def test_seeded_sampling_is_reproducible(model):
    a = ssi.generate(model, "once upon a time", max_new_tokens=10, seed=1)
    b = ssi.generate(model, "once upon a time", max_new_tokens=10, seed=1)
    assert a == b and a.startswith("once upon a time")
    others = {ssi.generate(model, "once upon a time", max_new_tokens=10, seed=s) for s in (2, 3, 4)}
    assert others - {a}, "the seed changes nothing: is it sampling at all?"


def test_greedy_matches_argmax(model):
    text = ssi.generate(model, "once upon", max_new_tokens=1, temperature=0)
    tokens = model.to_tokens("once upon")
    with torch.no_grad():
        nxt = model(tokens)[0, -1].argmax().item()
    if nxt == 1:  # [EOS] ends the story; nothing is appended
        assert text == "once upon"
    else:
        assert text == model.tokenizer.decode(tokens[0, 1:].tolist() + [nxt])


def test_bad_arguments(model):
    with pytest.raises(InvalidArgumentError, match="max_new_tokens"):
        ssi.generate(model, "hi", max_new_tokens=0)
    with pytest.raises(InvalidArgumentError, match="temperature"):
        ssi.generate(model, "hi", temperature=-1)
    with pytest.raises(InvalidArgumentError, match="n_ctx"):
        ssi.generate(model, "a " * 100)

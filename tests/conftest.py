"""Shared fixtures: offline isolation and tiny checkpoints built in-process.

Every test runs with the Hugging Face Hub forced offline, the HF cache and ``SSI_MODELS_PATH``
pointed at temporary folders, and outbound sockets refused, so no test can touch the network
or the user's caches.
"""

from __future__ import annotations

import json
import os
import random
import socket
import string

import pytest
import torch

from simplestories_interp import zoo
from simplestories_interp.data.tokenizer import train_tokenizer
from tests.helpers import save_hf_checkpoint

# One torch thread per test process (and, through the environment, per subprocess a test starts):
# `pytest -n 2` on two cores with torch's default thread pool oversubscribes the CPU, which makes
# the tiny models of the tests many times slower. OMP_NUM_THREADS set by the caller wins.
torch.set_num_threads(int(os.environ.setdefault("OMP_NUM_THREADS", "1")))


@pytest.fixture(autouse=True)
def offline_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("SSI_MODELS_PATH", "")
    monkeypatch.setenv("WANDB_MODE", "disabled")


@pytest.fixture(autouse=True, scope="session")
def no_network():
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and self.family != socket.AF_UNIX:
            raise OSError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = real_connect


def _pseudo_corpus(seed: int = 0, n_words: int = 6000, n_texts: int = 2000) -> list[str]:
    """Texts with enough distinct pseudo-words that WordPiece fills a 4096-token vocabulary."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 7)))
             for _ in range(n_words)]
    words += "once upon a time there was a little girl named lily she said".split()
    return [" ".join(rng.choice(words) for _ in range(50)) + ' , . ! ? " 1 2' for _ in range(n_texts)]


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return _pseudo_corpus()


@pytest.fixture(scope="session")
def tokenizer_factory(corpus):
    """Recipe tokenizers of a given vocabulary size, with the hub's [EOS]-appending post-processor."""
    cache = {}

    def make(vocab_size: int):
        if vocab_size not in cache:
            cache[vocab_size] = train_tokenizer(corpus, vocab_size=vocab_size)
            assert len(cache[vocab_size]) == vocab_size
        return cache[vocab_size]

    return make


@pytest.fixture
def tiny_spec() -> zoo.ModelSpec:
    """A 2-layer GQA architecture small enough for fast tests."""
    return zoo.ModelSpec(name="tiny", n_layers=2, d_model=32, n_heads=4, d_head=8,
                         n_key_value_heads=2, d_mlp=48, d_vocab=300, n_ctx=64)


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_spec, tokenizer_factory):
    """(directory, hf_model) of a tiny HF Llama checkpoint with a training_config.json."""
    directory = tmp_path / "tiny-model"
    model = save_hf_checkpoint(directory, tiny_spec, tokenizer_factory(tiny_spec.d_vocab))
    (directory / "training_config.json").write_text(json.dumps({"n_ctx": tiny_spec.n_ctx}))
    return directory, model


@pytest.fixture(scope="session")
def synth_tokenizer():
    """A recipe tokenizer trained on the synthetic corpus (small vocabulary, fixed)."""
    from simplestories_interp.data.sources import iter_stories
    from simplestories_interp.data.tokenizer import fix_tokenizer

    return fix_tokenizer(train_tokenizer(iter_stories("synthetic", limit=400), vocab_size=600))


@pytest.fixture(scope="session")
def tiny_model(synth_tokenizer):
    """A random 2-layer model over the synthetic tokenizer (n_ctx 64)."""
    from simplestories_interp.zoo.loading import build_model

    spec = zoo.ModelSpec(name="tiny-synth", n_layers=2, d_model=32, n_heads=4, d_head=8,
                         n_key_value_heads=2, d_mlp=48, d_vocab=600, n_ctx=64)
    torch.manual_seed(0)
    return build_model(spec, None, synth_tokenizer, device="cpu")


@pytest.fixture
def plain_story_file(tmp_path):
    """A .txt file of plain English stories (blank-line paragraphs, <|endoftext|> between stories)."""
    from tests.plain_stories import PLAIN_STORIES

    path = tmp_path / "plain_stories.txt"
    path.write_text("\n<|endoftext|>\n".join(PLAIN_STORIES) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def paper_hub(tmp_path_factory):
    """An HF cache holding tiny GPT-Neo stand-ins of the TinyStories paper's checkpoints under their hub
    names (tests.helpers.paper_checkpoints); use it with ``use_paper_hub``."""
    from tests.helpers import paper_checkpoints

    return paper_checkpoints(tmp_path_factory.mktemp("paper_hf") / "hub")


@pytest.fixture
def use_paper_hub(paper_hub, monkeypatch):
    """The paper's checkpoints reachable by name, offline (HF_HUB_OFFLINE=1, the fixture cache)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(paper_hub))
    monkeypatch.setenv("HF_HOME", str(paper_hub.parent))
    return paper_hub

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import simplestories_interp as ssi
from simplestories_interp.errors import ConfigError, UnknownModelError
from simplestories_interp.training.config import load_config
from simplestories_interp.training.trainer import batch_indices, lr_at, train

SMALL = dict(model="SynthStories-1.25M", n_ctx=32, n_stories=300, vocab_size=400, batch_size=8,
             max_steps=30, lr=3e-3, warmup_steps=3, eval_every=10, log_every=5, checkpoint_every=10,
             device="cpu", samples=["once upon a time"])


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_CACHE_DIR", str(tmp_path / "cache"))


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_short_run_lowers_loss_and_exports(tmp_path):
    cfg = load_config(**SMALL, out=str(tmp_path / "run"))
    out = train(cfg)
    records = _records(tmp_path / "run")
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses[-1] < losses[0] - 0.5
    assert {"step", "loss", "lr", "tokens_per_s"} <= set(records[0]) and "val_loss" in records[1]
    model = ssi.load_model(out, device="cpu")
    assert model.cfg.n_ctx == 32 and model.cfg.d_vocab == 400
    card = (out / "README.md").read_text()
    assert "final val loss" in card and "ssi train" in card
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    tokens = model.to_tokens("once upon a time")
    with torch.no_grad():
        assert (hf(tokens).logits - model(tokens)).abs().max() < 1e-4


def test_norm_free_training_exports_native(tmp_path):
    cfg = load_config(**{**SMALL, "max_steps": 4, "normalization": "none"}, out=str(tmp_path / "run"))
    out = train(cfg)
    assert (out / "ssi_config.json").is_file()
    model = ssi.load_model(out, device="cpu")
    assert model.cfg.normalization_type is None


@pytest.mark.parametrize("normalization", ["rms", "none"])
def test_absolute_positions_load_exactly_as_a_hooked_transformer(tmp_path, normalization):
    """Learned absolute position embeddings (the TinyStories GPT-Neo models' scheme) train, export in
    the native format, load as HookedTransformer(positional_embedding_type="standard") with the
    trainer's logits, and fine-tune from the export (``--init-from``) with the same weights."""
    from simplestories_interp.training.model import Llama, load_pretrained

    cfg = load_config(**{**SMALL, "max_steps": 4, "positional": "absolute", "normalization": normalization},
                      out=str(tmp_path / "run"))
    out = train(cfg)
    model = ssi.load_model(out, device="cpu")
    assert (out / "ssi_config.json").is_file() and model.cfg.positional_embedding_type == "standard"
    assert model.ssi_spec.name == "SynthStories-1.25M-ctx32-abspos" + ("-noLN" if normalization == "none" else "")
    raw, _ = load_pretrained(str(out))
    assert isinstance(raw, Llama) and raw.pos is not None
    tokens = model.to_tokens("once upon a time there was a little girl")
    with torch.no_grad():
        assert (model(tokens) - raw(tokens)).abs().max() < 1e-4
        shifted = raw(torch.cat([tokens[:, :1], tokens], dim=1))[:, 1:]  # positions matter
        assert (shifted - raw(tokens)).abs().max() > 1e-3
    if normalization == "rms":  # fine-tuning at a shorter context keeps the first learned positions
        short = load_config(**{**SMALL, "max_steps": 1, "n_ctx": 16, "init_from": str(out)},
                            out=str(tmp_path / "short"))
        tuned = ssi.load_model(train(short), device="cpu")
        assert tuned.cfg.n_ctx == 16 and tuned.W_pos.shape[0] == 16


def test_schedule_and_data_order():
    cfg = load_config(lr=1.0, max_steps=100, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1)
    a, b = batch_indices(3, 50, 8, seed=1), batch_indices(3, 50, 8, seed=1)
    assert (a == b).all() and len(set(a.tolist())) == 8
    epoch = np.concatenate([batch_indices(s, 48, 8, seed=1) for s in range(6)])
    assert sorted(epoch.tolist()) == list(range(48))  # one epoch visits every row once


def _ssi(*args, env=None):
    return [sys.executable, "-m", "simplestories_interp", *args]


def _cli_args(run, tokenizer):
    flags = []
    args = {**SMALL, "max_steps": 16, "checkpoint_every": 2, "out": str(run), "tokenizer": str(tokenizer)}
    for k, v in args.items():
        flags += [f"--{k.replace('_', '-')}", *(v if isinstance(v, list) else [str(v)])]
    return ["train", *flags]


def _shared_tokenizer(path):
    """WordPiece training breaks ties arbitrarily, so runs to compare share one tokenizer."""
    from simplestories_interp.data.sources import iter_stories
    from simplestories_interp.data.tokenizer import save_tokenizer, train_tokenizer

    save_tokenizer(train_tokenizer(iter_stories("synthetic", limit=300), vocab_size=400), path)
    return path


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, capsys):
    """kill -9 mid-run (in a process of its own), then --resume: the same weights as an uninterrupted run."""
    from simplestories_interp.cli import main

    full, killed = tmp_path / "full", tmp_path / "killed"
    tok = _shared_tokenizer(tmp_path / "tok")
    proc = subprocess.Popen(_ssi(*_cli_args(killed, tok)), env={**os.environ}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "step_0000006").exists():
        assert time.time() < deadline and proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (killed / "model").exists()
    assert main([*_cli_args(killed, tok), "--resume"]) == 0, capsys.readouterr().err
    assert main(_cli_args(full, tok)) == 0, capsys.readouterr().err
    a = load_file(str(full / "model" / "model.safetensors"))
    b = load_file(str(killed / "model" / "model.safetensors"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), "a resumed run logged some steps twice"
    capsys.readouterr()
    assert main([*_cli_args(killed, tok), "--resume"]) == 2 and "already finished" in capsys.readouterr().err


@pytest.mark.slow
def test_ddp_two_processes_match_one(tmp_path):
    import socket

    from simplestories_interp.cli import main

    one, two = tmp_path / "one", tmp_path / "two"
    args = {**SMALL, "max_steps": 3, "log_every": 1, "eval_every": 3}
    flags = [x for k, v in args.items()
             for x in (f"--{k.replace('_', '-')}", *(v if isinstance(v, list) else [str(v)]))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert main(["train", *flags, "--out", str(one)]) == 0
    with socket.socket() as free:  # a free port: several test runs may share the machine
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(port), "-m", "simplestories_interp", "train", *flags,
                          "--tokenizer", str(one / "tokenizer"), "--out", str(two)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for a, b in zip(_records(one), _records(two), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)


def test_bad_configs(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("modle: SynthStories-1.25M\n")
    with pytest.raises(ConfigError, match="did you mean 'model'|Did you mean 'model'"):
        load_config(cfg_file)
    with pytest.raises(ConfigError, match="multiple of micro_batch_size"):
        load_config(batch_size=10, micro_batch_size=4)
    with pytest.raises(UnknownModelError, match="SimpleStories-5M"):
        train(load_config(**{**SMALL, "model": "SimpleStories-5N"}, out=str(tmp_path / "x")))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    from simplestories_interp.errors import DataError

    with pytest.raises(DataError):
        train(load_config(**{**SMALL, "data": str(empty)}, out=str(tmp_path / "y")))


def test_n_ctx_above_the_models(tmp_path):
    out = train(load_config(**{**SMALL, "max_steps": 2}, out=str(tmp_path / "base")))
    with pytest.raises(ConfigError, match="n_ctx 64 is above the n_ctx 32"):
        train(load_config(**{**SMALL, "n_ctx": 64}, init_from=str(out), out=str(tmp_path / "ft")))


def test_fine_tune_starts_from_the_weights(tmp_path):
    out = train(load_config(**{**SMALL, "max_steps": 6}, out=str(tmp_path / "base")))
    ft = train(load_config(**{**SMALL, "max_steps": 2, "lr": 1e-9}, init_from=str(out),
                           out=str(tmp_path / "ft")))
    a, b = load_file(str(out / "model.safetensors")), load_file(str(ft / "model.safetensors"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    # the card and training record say what the model is: named after its run, base and total tokens recorded
    base, tuned = (json.loads((d / "training_config.json").read_text())["final"] for d in (out, ft))
    record = json.loads((ft / "training_config.json").read_text())
    assert record["base"] == {"model": str(out), "tokens": base["tokens"]}
    assert tuned["total_tokens"] == base["tokens"] + tuned["tokens"] and tuned["tokens"] < tuned["total_tokens"]
    card = (ft / "README.md").read_text()
    assert card.startswith("# ft\n") and f"| total tokens seen | {tuned['total_tokens']:,} |" in card


def test_zero_residual_init_starts_every_block_as_the_identity(tiny_spec):
    import dataclasses

    import torch.nn.functional as F

    from simplestories_interp.errors import ConfigError
    from simplestories_interp.training.config import TrainConfig
    from simplestories_interp.training.model import Llama

    torch.manual_seed(0)
    model = Llama(dataclasses.replace(tiny_spec, normalization="none"))
    model.zero_residual_branches()
    tokens = torch.randint(0, tiny_spec.d_vocab, (2, 8))
    assert torch.equal(model(tokens), F.linear(model.embed(tokens), model.embed.weight))
    assert TrainConfig(init="zero-residual").init == "zero-residual"
    with pytest.raises(ConfigError, match="init must be"):
        TrainConfig(init="zeros")


def test_a_refusal_on_one_rank_stops_every_rank(monkeypatch):
    """Each rank checks its own device's memory; a rank that fits must not wait at a barrier for one that
    refused (the ranks agree through an all-reduce of the refusal)."""
    from simplestories_interp.errors import TooLargeError
    from simplestories_interp.training import trainer as trainer_module

    def other_rank_refused(flag, op):
        flag.fill_(1)

    monkeypatch.setattr(trainer_module.dist, "all_reduce", other_rank_refused)
    ranks = trainer_module.Dist(rank=0, world=2)
    with pytest.raises(TooLargeError, match="another rank"):
        ranks.all_or_none(lambda: None, torch.device("cpu"))

    def refuse():
        raise TooLargeError("needs 9 GiB")

    with pytest.raises(TooLargeError, match="needs 9 GiB"):
        ranks.all_or_none(refuse, torch.device("cpu"))
    trainer_module.Dist().all_or_none(lambda: None, torch.device("cpu"))  # one process: no collective at all

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from simplestories_interp.analysis import activations
from simplestories_interp.analysis.activations import ActivationStore, cache_activations
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.errors import (
    ConfigError,
    IntegrityError,
    InvalidArgumentError,
    MissingDirectoryError,
    UnknownHookError,
)

HOOKS = ["blocks.0.mlp.hook_post", "blocks.1.hook_resid_post"]


def test_store_matches_run_with_cache(tiny_model, tmp_path):
    store = cache_activations(tiny_model, HOOKS, tmp_path / "s", n_stories=40, rows_per_shard=16, progress=False)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["hooks"] == {HOOKS[0]: 48, HOOKS[1]: 32}
    rows = np.concatenate(list(iter_row_batches("synthetic", tiny_model.tokenizer, 64, 100, limit=40)))
    assert store.n_tokens == rows.size and len(manifest["shards"]) == -(-len(rows) // 16)
    _, cache = tiny_model.run_with_cache(torch.from_numpy(rows[:20]))
    for hook in HOOKS:
        flat = cache[hook].reshape(-1, cache[hook].shape[-1])
        for i in (0, 63, 64, 1000):
            assert torch.allclose(store.get(i, hook), flat[i], atol=1e-5)
    info = store.token(70, tiny_model.tokenizer)
    assert info["token"] == rows[1, 6] and info["row"] == 1 and info["pos"] == 6


def test_shuffled_batches_cover_everything(tiny_model, tmp_path):
    store = cache_activations(tiny_model, HOOKS[1], tmp_path / "s", n_stories=30, rows_per_shard=8, progress=False)
    batches = list(store.batches(100, shuffle=True, seed=1))
    assert all(b.shape[1] == 32 for b in batches) and sum(len(b) for b in batches) == store.n_tokens
    everything = torch.cat([store.shard(i) for i in range(len(store.manifest.shards))])
    assert torch.allclose(torch.cat(batches).sum(0), everything.sum(0), atol=1e-2)
    assert not torch.equal(torch.cat(batches)[:100], everything[:100])


def test_dtype_option(tiny_model, tmp_path):
    store = cache_activations(tiny_model, HOOKS[0], tmp_path / "s", n_stories=10, dtype="bf16", progress=False)
    assert store.shard(0).dtype == torch.bfloat16
    full = cache_activations(tiny_model, HOOKS[0], tmp_path / "f32", n_stories=10, progress=False)
    assert torch.equal(store.shard(0), full.shard(0).to(torch.bfloat16))  # the activations, rounded


def test_bad_input(tiny_model, tmp_path):
    with pytest.raises(UnknownHookError, match="Did you mean 'blocks.0.mlp.hook_post'"):
        cache_activations(tiny_model, "blocks.0.mlp.hook_pots", tmp_path / "a", progress=False)
    with pytest.raises(InvalidArgumentError, match="out of range"):
        cache_activations(tiny_model, "blocks.5.mlp.hook_post", tmp_path / "a", progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MissingDirectoryError, match="cannot write"):
        cache_activations(tiny_model, HOOKS[0], blocker / "store", progress=False)
    cache_activations(tiny_model, HOOKS[0], tmp_path / "s", n_stories=10, progress=False)
    with pytest.raises(ConfigError, match="hooks: stored"):
        cache_activations(tiny_model, HOOKS[1], tmp_path / "s", n_stories=10, progress=False)
    from simplestories_interp.zoo.loading import build_model

    other = build_model(tiny_model.ssi_spec, None, tiny_model.tokenizer, device="cpu")  # other weights
    with pytest.raises(ConfigError, match="model_fingerprint"):
        cache_activations(other, HOOKS[0], tmp_path / "s", n_stories=10, progress=False)


@pytest.fixture
def small_store(tiny_model, tmp_path):
    """A finished store of several shards (rows_per_shard 4)."""
    cache_activations(tiny_model, HOOKS, tmp_path / "s", n_stories=10, rows_per_shard=4, progress=False)
    return tmp_path / "s"


def _reads(store):
    """Each way a store opens a shard: whole shard, one token's vector, token context, training batches."""
    shard_1_token = int(store._offsets[1])
    return [lambda: store.shard(1, HOOKS[0]), lambda: store.get(shard_1_token, HOOKS[1]),
            lambda: store.token(shard_1_token), lambda: list(store.batches(64, HOOKS[0]))]


def test_verify_a_good_store(small_store):
    store = ActivationStore(small_store)
    manifest = json.loads((small_store / "manifest.json").read_text())
    assert len(manifest["shards"]) > 2
    assert all(s["bytes"] == (small_store / s["file"]).stat().st_size for s in manifest["shards"])
    assert store.verify() == len(manifest["shards"])


def test_overwritten_shard_is_refused(small_store):
    shard = small_store / "shard_00001.safetensors"
    data = bytearray(shard.read_bytes())
    data[-16:] = bytes(16)  # activation bytes, same size: safetensors itself reads this happily
    shard.write_bytes(bytes(data))
    for read in _reads(ActivationStore(small_store)):
        with pytest.raises(IntegrityError, match=r"shard_00001\.safetensors' has a checksum mismatch.*"
                                                 r"deleting .* rerunning the same `ssi cache` command"):
            read()
    ActivationStore(small_store).shard(0, HOOKS[0])  # the good shards stay readable
    with pytest.raises(IntegrityError, match="shard_00001"):
        ActivationStore(small_store).verify()


def test_truncated_shard_is_refused(small_store):
    shard = small_store / "shard_00001.safetensors"
    size = shard.stat().st_size
    os.truncate(shard, size // 2)
    for read in _reads(ActivationStore(small_store)):
        with pytest.raises(IntegrityError, match=f"shard_00001.safetensors' has size {size // 2} bytes, "
                                                 f"expected {size}"):
            read()
    # A store written before sizes were recorded: the checksum catches it, not a safetensors traceback.
    manifest = json.loads((small_store / "manifest.json").read_text())
    for entry in manifest["shards"]:
        del entry["bytes"]
    (small_store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="shard_00001.safetensors' has a checksum mismatch"):
        ActivationStore(small_store).shard(1, HOOKS[0])


def test_missing_shard_is_refused(small_store):
    (small_store / "shard_00001.safetensors").unlink()
    for read in _reads(ActivationStore(small_store)):
        with pytest.raises(IntegrityError, match="shard_00001.safetensors' is missing"):
            read()
    with pytest.raises(IntegrityError, match="is missing"):
        ActivationStore(small_store).verify()


def test_checksum_once_per_shard_and_store(small_store, monkeypatch):
    hashed = []
    real = activations._sha256_file
    monkeypatch.setattr(activations, "_sha256_file", lambda path: hashed.append(path.name) or real(path))
    store = ActivationStore(small_store)
    for _ in range(3):
        store.shard(0, HOOKS[0])
        store.get(1, HOOKS[1])
    assert hashed == ["shard_00000.safetensors"]
    (small_store / "shard_00000.safetensors").unlink()  # the size/existence check runs on every open
    with pytest.raises(IntegrityError, match="is missing"):
        store.shard(0, HOOKS[0])


def test_resume_verifies_the_shards_it_keeps(tiny_model, small_store):
    manifest = json.loads((small_store / "manifest.json").read_text())
    manifest["complete"] = False
    manifest["shards"] = manifest["shards"][:2]  # as if killed after two shards
    (small_store / "manifest.json").write_text(json.dumps(manifest))
    shard = small_store / "shard_00000.safetensors"
    shard.write_bytes(shard.read_bytes()[:-4] + bytes(4))
    with pytest.raises(IntegrityError, match="shard_00000.safetensors' has a checksum mismatch"):
        cache_activations(tiny_model, HOOKS, small_store, n_stories=10, rows_per_shard=4, progress=False)


@pytest.mark.parametrize("hook", ["blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"])
def test_hooks_that_are_not_token_shaped_are_refused(tiny_model, tmp_path, hook):
    with pytest.raises(InvalidArgumentError, match=rf"{hook.replace('.', '[.]')}.*shape \[2, .*hook_resid_post"):
        cache_activations(tiny_model, [HOOKS[0], hook], tmp_path / "p" / "s", n_stories=10, progress=False)
    assert not (tmp_path / "p").exists()


def test_per_head_hooks_are_stored_flattened(tiny_model, tmp_path):
    """hook_z is [batch, pos, head, d_head]: one n_heads * d_head vector per token, readable back."""
    store = cache_activations(tiny_model, "blocks.0.attn.hook_z", tmp_path / "z", n_stories=10, progress=False)
    width = tiny_model.cfg.n_heads * tiny_model.cfg.d_head
    assert store.d("blocks.0.attn.hook_z") == width and store.shard(0, "blocks.0.attn.hook_z").shape[-1] == width


@pytest.mark.parametrize(("arg", "value"), [("rows_per_shard", 0), ("rows_per_shard", -3), ("batch_size", 0)])
def test_sizes_must_be_positive(tiny_model, tmp_path, arg, value):
    with pytest.raises(InvalidArgumentError, match=f"{arg} must be a positive integer, got {value}"):
        cache_activations(tiny_model, HOOKS[0], tmp_path / "s", n_stories=10, progress=False, **{arg: value})
    assert not (tmp_path / "s").exists()


def _model_dir(tiny_model, tmp_path):
    from simplestories_interp.zoo.formats import save_native

    return save_native(tiny_model, tmp_path / "model")


def _cache_args(model_dir, out, n_stories):
    return ["cache", str(model_dir), "--hooks", *HOOKS, "--out", str(out), "--n-stories", str(n_stories),
            "--rows-per-shard", "4", "--batch-size", "2", "--device", "cpu"]


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_store(tiny_model, tmp_path):
    """kill -9 mid-run, then the same command again: the store is byte for byte an uninterrupted run's."""
    from simplestories_interp.cli import main

    model_dir = _model_dir(tiny_model, tmp_path)
    command = [sys.executable, "-m", "simplestories_interp", *_cache_args(model_dir, tmp_path / "killed", 100)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "killed" / "manifest.json"
    deadline = time.time() + 300
    while not (manifest.is_file() and len(json.loads(manifest.read_text())["shards"]) >= 3):
        assert time.time() < deadline and proc.poll() is None, "finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    partial = json.loads(manifest.read_text())
    assert not partial["complete"]
    listed = {s["file"] for s in partial["shards"]}
    assert all((tmp_path / "killed" / f).is_file() for f in listed)
    assert main(_cache_args(model_dir, tmp_path / "killed", 100)) == 0
    assert main(_cache_args(model_dir, tmp_path / "full", 100)) == 0
    a = json.loads((tmp_path / "full" / "manifest.json").read_text())
    b = json.loads(manifest.read_text())
    assert len(a["shards"]) > 2 * len(partial["shards"])  # most of the store was written after the kill
    assert b["complete"] and [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]


# Peak memory of caching a store many times larger than its buffers. A wide MLP makes the store
# large (16 KB of activations a token) while each batch stays small (2 rows); the peak resident
# size is reset once the model is loaded and one short run has warmed everything up, so what is
# measured is what caching itself holds on to.
PEAK = """
import json, sys
import simplestories_interp as ssi
from simplestories_interp.analysis import activations
from simplestories_interp.analysis.activations import ActivationStore, cache_activations

def peak_bytes():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

model = ssi.load_model(sys.argv[1], device="cpu")
hooks = ["blocks.0.mlp.hook_post", "blocks.1.mlp.hook_post"]
cache_activations(model, hooks, sys.argv[2] + "/warm-up", n_stories=2, batch_size=2, rows_per_shard=4, progress=False)
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # reset the peak resident set size (VmHWM) to the current one
before = peak_bytes()
store = cache_activations(model, hooks, sys.argv[2] + "/store", n_stories=int(sys.argv[3]), batch_size=2,
                          rows_per_shard=4, progress=False)
print(json.dumps({"growth": peak_bytes() - before, "store": store.n_tokens * sum(store.d(h) for h in hooks) * 4}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc/self")
def test_memory_is_bounded(tiny_model, tmp_path):
    from dataclasses import replace

    from simplestories_interp.zoo.formats import save_native
    from simplestories_interp.zoo.loading import build_model

    wide = build_model(replace(tiny_model.ssi_spec, d_mlp=2048), None, tiny_model.tokenizer, device="cpu")
    model_dir = save_native(wide, tmp_path / "model")
    out = subprocess.run([sys.executable, "-c", PEAK, str(model_dir), str(tmp_path), "60"],
                         capture_output=True, text=True, timeout=600, env={**os.environ})
    assert out.returncode == 0, out.stderr
    shutil.rmtree(tmp_path / "store")  # 200+ MB
    peak = json.loads(out.stdout.strip().splitlines()[-1])
    assert peak["store"] > 150 * 2**20  # far more than the buffers and the allocator's slack
    assert peak["growth"] < peak["store"] / 4, peak  # holding the store in memory would take all of it

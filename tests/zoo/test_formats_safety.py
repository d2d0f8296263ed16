"""Model directories are read and written safely: a sharded index cannot name files outside the
model directory, and saved weights get the same file mode as everything saved beside them."""

import json
import os
import stat

import pytest
import torch
from safetensors.torch import load_file, save_file

import simplestories_interp as ssi
from simplestories_interp import files
from simplestories_interp.errors import CorruptFileError
from simplestories_interp.zoo import formats
from simplestories_interp.zoo.formats import WEIGHTS, WEIGHTS_INDEX, load_weights, save_hf, save_native
from simplestories_interp.zoo.loading import build_model
from tests.helpers import hf_llama

SHARD = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"


def _sharded(directory, weight_map=None):
    """A directory with two small shards and an index (``weight_map`` overrides the index's map)."""
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"a": torch.zeros(2)}, str(directory / SHARD))
    save_file({"b": torch.ones(3)}, str(directory / SHARD2))
    index = {"metadata": {}, "weight_map": weight_map or {"a": SHARD, "b": SHARD2}}
    (directory / WEIGHTS_INDEX).write_text(json.dumps(index))
    return directory


@pytest.fixture
def outside(tmp_path):
    """A valid shard outside the model directory (what a hostile index points at)."""
    path = tmp_path / "elsewhere" / "secret.safetensors"
    path.parent.mkdir()
    save_file({"a": torch.full((2,), 7.0)}, str(path))
    return path


@pytest.fixture
def no_open(monkeypatch):
    """Fail the test if any weights file is opened."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a weights file was opened: {args}")

    monkeypatch.setattr(formats, "load_file", refuse)


def test_a_valid_sharded_index_loads(tmp_path):
    state = load_weights(_sharded(tmp_path / "model"))
    assert set(state) == {"a", "b"} and torch.equal(state["b"], torch.ones(3))


@pytest.mark.parametrize("entry, rule", [
    ("ABS", "is an absolute path"),
    ("../elsewhere/secret.safetensors", r"contains '\.\.'"),
    ("sub/../../elsewhere/secret.safetensors", r"contains '\.\.'"),
    ("..\\elsewhere\\secret.safetensors", r"contains '\.\.'"),
    ("C:\\Windows\\secret.safetensors", "is an absolute path"),
    ("", "is not a file name"),
    ("sub/..", r"contains '\.\.'"),
    (".", "names the model directory itself"),
    (7, "is not a file name"),
])
def test_index_entries_outside_the_directory_are_refused(tmp_path, outside, no_open, entry, rule):
    entry = str(outside) if entry == "ABS" else entry
    # The bad entry comes second: no shard is opened before every entry is checked.
    directory = _sharded(tmp_path / "model", {"a": SHARD, "b": entry})
    with pytest.raises(CorruptFileError, match=rf"weight_map entry 'b' -> .*{rule}") as info:
        load_weights(directory)
    assert str(directory) in str(info.value)


def test_symlinks_out_of_the_directory_are_refused(tmp_path, outside, no_open):
    directory = _sharded(tmp_path / "model", {"a": SHARD, "b": "link.safetensors", "c": "sub/secret.safetensors"})
    (directory / "link.safetensors").symlink_to(outside)
    with pytest.raises(CorruptFileError, match=r"'b' -> 'link.safetensors' resolves outside the model dir"):
        load_weights(directory)
    (directory / "link.safetensors").unlink()
    (directory / "link.safetensors").symlink_to(directory / SHARD2)  # a link inside is fine
    (directory / "sub").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(CorruptFileError, match=r"'c' -> 'sub/secret.safetensors' resolves outside"):
        load_weights(directory)


def test_symlinks_inside_the_directory_load(tmp_path):
    directory = _sharded(tmp_path / "model", {"a": SHARD, "b": "sub/link.safetensors"})
    (directory / "sub").mkdir()
    (directory / "sub" / "link.safetensors").symlink_to(directory / SHARD2)
    assert set(load_weights(directory)) == {"a", "b"}


def test_hf_cache_snapshot_links_to_its_blobs(tmp_path, outside):
    """A cached hub snapshot's files are links into the repo's ``blobs``: those are accepted, nothing else."""
    repo = tmp_path / "hub" / "models--org--name"
    source = _sharded(tmp_path / "source")
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for i, name in enumerate((SHARD, SHARD2, WEIGHTS_INDEX)):
        os.replace(source / name, repo / "blobs" / f"blob{i}")
        (snapshot / name).symlink_to(f"../../blobs/blob{i}")
    assert set(load_weights(snapshot)) == {"a", "b"}
    (snapshot / SHARD2).unlink()
    (snapshot / SHARD2).symlink_to(outside)
    with pytest.raises(CorruptFileError, match="resolves outside"):
        load_weights(snapshot)


@pytest.mark.parametrize("index", [[], {"weight_map": []}, {"weight_map": {}}, {"metadata": {}}])
def test_an_index_without_a_weight_map_is_corrupt(tmp_path, index):
    directory = _sharded(tmp_path / "model")
    (directory / WEIGHTS_INDEX).write_text(json.dumps(index))
    with pytest.raises(CorruptFileError, match="no weight_map entries|must hold a JSON object"):
        load_weights(directory)


def test_load_model_refuses_a_hostile_index(tiny_checkpoint, tmp_path, outside):
    directory, _ = tiny_checkpoint
    os.replace(directory / WEIGHTS, directory / SHARD)
    keys = list(load_file(str(directory / SHARD)))
    weight_map = {k: SHARD for k in keys}
    (directory / WEIGHTS_INDEX).write_text(json.dumps({"weight_map": weight_map}))
    assert ssi.load_model(directory, device="cpu").cfg.n_layers == 2  # the sharded layout itself loads
    weight_map[keys[-1]] = "../../" + outside.relative_to(tmp_path).as_posix()
    (directory / WEIGHTS_INDEX).write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(CorruptFileError, match=rf"entry '{keys[-1]}' -> .* contains '\.\.'"):
        ssi.load_model(directory, device="cpu")


@pytest.fixture
def umask():
    """Set the process umask for the test; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _modes(directory):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_saved_weights_have_the_mode_of_ordinary_files(tiny_spec, tokenizer_factory, tmp_path, umask, mask,
                                                       expected):
    umask(mask)
    assert files.file_mode() == 0o666 & ~mask
    tokenizer = tokenizer_factory(tiny_spec.d_vocab)
    native = save_native(build_model(tiny_spec, None, device="cpu"), tmp_path / "native", tokenizer=tokenizer)
    hf = save_hf(hf_llama(tiny_spec).state_dict(), tiny_spec, tmp_path / "hf", tokenizer=tokenizer)
    for directory in (native, hf):
        modes = _modes(directory)
        assert modes[WEIGHTS] == expected, oct(modes[WEIGHTS])
        assert set(modes.values()) == {expected}, {k: oct(v) for k, v in modes.items()}  # like everything beside
        assert stat.S_IMODE(directory.stat().st_mode) == 0o777 & ~mask

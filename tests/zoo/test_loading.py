import json
import subprocess
import sys
import warnings

import pytest
import torch

import simplestories_interp as ssi
from simplestories_interp import zoo
from simplestories_interp.errors import (
    CorruptFileError,
    HubOfflineError,
    InvalidArgumentError,
    MissingDirectoryError,
    MissingWeightsError,
    ModelNotTrainedError,
    TokenizerMismatchError,
    UnknownModelError,
)
from simplestories_interp.zoo.formats import save_native
from tests.helpers import build_hf_cache, save_hf_checkpoint

SIZES = ["1.25M", "5M", "11M", "30M", "35M"]
TEXT = "once upon a time there was a little girl named lily. she said \"hello\" 12 times!"


def _logits_gap(model, hf_model, text=TEXT):
    tokens = model.to_tokens(text)
    with torch.no_grad():
        return (model(tokens) - hf_model(tokens).logits).abs().max().item()


@pytest.mark.parametrize("size", SIZES)
def test_logits_match_hf_for_every_architecture(tmp_path, tokenizer_factory, size):
    spec = zoo.get_spec(f"SimpleStories-{size}")
    hf_model = save_hf_checkpoint(tmp_path / size, spec, tokenizer_factory(spec.d_vocab))
    model = ssi.load_model(tmp_path / size, device="cpu")
    assert model.cfg.n_ctx == 512, "n_ctx must come from the zoo, not max_position_embeddings=2048"
    assert model.cfg.n_key_value_heads == 2 and model.cfg.eps == 1e-6
    assert _logits_gap(model, hf_model) <= 1e-4


def test_v2_vocabulary(tmp_path, tokenizer_factory):
    spec = zoo.get_spec("SimpleStories-V2-1.25M")
    hf_model = save_hf_checkpoint(tmp_path / "v2", spec, tokenizer_factory(4019))
    model = ssi.load_model(tmp_path / "v2", device="cpu")
    assert model.cfg.d_vocab == 4019 and _logits_gap(model, hf_model) <= 1e-4


def test_tokenizer_is_fixed_on_the_model(tiny_checkpoint):
    model = ssi.load_model(tiny_checkpoint[0], device="cpu")
    tokens = model.to_tokens("once upon a time")[0].tolist()
    assert tokens[0] == 1 and tokens[-1] != 1 and tokens.count(1) == 1
    assert model.to_tokens("once upon a time", prepend_bos=False)[0].tolist() == tokens[1:]
    assert model.to_string(tokens[1:]) == "once upon a time"
    pieces = model.to_str_tokens("once upon")
    assert pieces[0] == "[EOS]" and "".join(p.removeprefix("##") for p in pieces[1:]) == "onceupon"
    assert model.cfg.tokenizer_prepends_bos is False


def test_no_weight_processing_unless_asked(tiny_checkpoint):
    directory, hf_model = tiny_checkpoint
    plain = ssi.load_model(directory, device="cpu")
    assert plain.cfg.normalization_type == "RMS"
    assert torch.equal(plain.blocks[0].ln1.w, hf_model.model.layers[0].input_layernorm.weight)
    folded = ssi.load_model(directory, device="cpu", fold_ln=True)
    assert folded.cfg.normalization_type == "RMSPre"
    tokens = plain.to_tokens(TEXT)
    with torch.no_grad():
        assert (folded(tokens) - plain(tokens)).abs().max() < 1e-4


def test_n_ctx_sources(tiny_checkpoint, tmp_path):
    directory, _ = tiny_checkpoint
    assert ssi.load_model(directory, device="cpu").cfg.n_ctx == 64  # training_config.json
    assert ssi.load_model(directory, device="cpu", n_ctx=32).cfg.n_ctx == 32
    (directory / "training_config.json").unlink()
    with pytest.warns(UserWarning, match="max_position_embeddings"):
        assert ssi.load_model(directory, device="cpu").cfg.n_ctx == 2048


def test_no_deprecation_warning_on_load(tiny_checkpoint):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ssi.load_model(tiny_checkpoint[0], device="cpu")
    assert not [w for w in caught if "deprecated" in str(w.message)]


def test_dtype_option(tiny_checkpoint):
    model = ssi.load_model(tiny_checkpoint[0], device="cpu", dtype="bf16")
    assert model.W_E.dtype == torch.bfloat16
    assert model(model.to_tokens("once upon")).dtype == torch.bfloat16


def test_native_format_roundtrip(tiny_checkpoint, tmp_path):
    model = ssi.load_model(tiny_checkpoint[0], device="cpu")
    save_native(model, tmp_path / "native")
    again = ssi.load_model(tmp_path / "native", device="cpu")
    tokens = model.to_tokens(TEXT)
    with torch.no_grad():
        assert torch.allclose(model(tokens), again(tokens), atol=1e-6)


def test_save_hf_is_loadable_by_transformers(tiny_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM

    from simplestories_interp.zoo.convert import tl_to_hf
    from simplestories_interp.zoo.formats import save_hf

    model = ssi.load_model(tiny_checkpoint[0], device="cpu")
    out = save_hf(tl_to_hf(model.state_dict(), model.ssi_spec), model.ssi_spec, tmp_path / "export",
                  tokenizer=model.tokenizer)
    hf_model = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    assert _logits_gap(model, hf_model) <= 1e-4
    assert ssi.load_model(out, device="cpu").cfg.n_ctx == model.cfg.n_ctx


def test_norm_free_native_model_loads(tiny_spec, tokenizer_factory, tmp_path):
    from dataclasses import replace

    spec = replace(tiny_spec, name="tiny-noLN", normalization="none")
    model = ssi.build_model(spec, device="cpu")
    save_native(model, tmp_path / "noln", tokenizer=tokenizer_factory(300))
    again = ssi.load_model(tmp_path / "noln", device="cpu")
    assert again.cfg.normalization_type is None and "blocks.0.ln1.hook_normalized" not in again.hook_dict
    tokens = again.to_tokens("once upon")
    with torch.no_grad():
        assert torch.allclose(model(tokens), again(tokens), atol=1e-6)


def _cached_repo(tmp_path, tokenizer_factory, monkeypatch):
    spec = zoo.get_spec("SimpleStories-1.25M")
    hf_model = save_hf_checkpoint(tmp_path / "src", spec, tokenizer_factory(4096))
    cache = tmp_path / "hf_cache"
    build_hf_cache(cache, "SimpleStories/SimpleStories-1.25M", tmp_path / "src")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache, hf_model


def test_zoo_name_loads_from_the_hf_cache_offline(tmp_path, tokenizer_factory, monkeypatch):
    _, hf_model = _cached_repo(tmp_path, tokenizer_factory, monkeypatch)
    model = ssi.load_model("SimpleStories-1.25M", device="cpu")
    assert model.cfg.n_ctx == 512 and _logits_gap(model, hf_model) <= 1e-4
    by_repo = ssi.load_model("SimpleStories/SimpleStories-1.25M", device="cpu")
    assert by_repo.cfg.n_ctx == 512


@pytest.mark.slow
def test_hub_path_in_a_fresh_process(tmp_path, tokenizer_factory, monkeypatch):
    """The real route: env variables read by a new interpreter, through the CLI."""
    cache, _ = _cached_repo(tmp_path, tokenizer_factory, monkeypatch)
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "home"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "simplestories_interp", "generate", "SimpleStories-1.25M",
         "--max-new-tokens", "5", "--device", "cpu"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("once upon a time")


def test_hub_repo_missing_from_cache_offline():
    with pytest.raises(HubOfflineError, match="HF_HUB_OFFLINE") as err:
        ssi.load_model("SimpleStories-5M")
    assert "hf download SimpleStories/SimpleStories-5M" in str(err.value)
    # one readable exception, not a chain of huggingface_hub's internals under it
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --- bad input -------------------------------------------------------------------------------

def test_unknown_zoo_name_suggests():
    with pytest.raises(UnknownModelError, match="SimpleStories-1.25M"):
        ssi.load_model("SimpleStories-1.25")


def test_untrained_variant():
    with pytest.raises(ModelNotTrainedError, match="SSI_MODELS_PATH"):
        ssi.load_model("SimpleStories-5M-ctx128")


def test_missing_directory(tmp_path):
    with pytest.raises(MissingDirectoryError, match="does not exist"):
        ssi.load_model(tmp_path / "nope")
    with pytest.raises(MissingDirectoryError):
        ssi.load_model("./nope/model")


def test_directory_without_weights(tiny_checkpoint, tmp_path):
    with pytest.raises(MissingWeightsError, match="not a model directory"):
        ssi.load_model(tmp_path / "tiny-model" / "..")  # the parent has no config
    (tiny_checkpoint[0] / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError, match="no weights"):
        ssi.load_model(tiny_checkpoint[0])


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_safetensors(tiny_checkpoint, damage):
    weights = tiny_checkpoint[0] / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 100)
    with pytest.raises(CorruptFileError, match="truncated or corrupt"):
        ssi.load_model(tiny_checkpoint[0])


def test_tokenizer_vocabulary_mismatch(tiny_checkpoint, tokenizer_factory):
    tokenizer_factory(4096).save_pretrained(str(tiny_checkpoint[0]))
    with pytest.raises(TokenizerMismatchError, match="4096 tokens.*d_vocab=300"):
        ssi.load_model(tiny_checkpoint[0])


def test_architecture_mismatch_with_zoo_entry(tiny_checkpoint, tmp_path, monkeypatch):
    from simplestories_interp.errors import WeightsMismatchError

    monkeypatch.setenv("SSI_MODELS_PATH", str(tmp_path))
    tiny_checkpoint[0].rename(tmp_path / "SimpleStories-5M-ctx64")
    with pytest.raises(WeightsMismatchError, match="d_model=32"):
        ssi.load_model("SimpleStories-5M-ctx64")


@pytest.mark.parametrize("kwargs,match", [({"n_ctx": 0}, "n_ctx"), ({"n_ctx": "big"}, "n_ctx"),
                                          ({"dtype": "float8"}, "unknown dtype"),
                                          ({"dtype": torch.int32}, "floating"),
                                          ({"rotary_dim": 7}, "rotary_dim")])
def test_nonsense_arguments(tiny_checkpoint, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        ssi.load_model(tiny_checkpoint[0], **kwargs)


def test_corrupt_config(tiny_checkpoint):
    (tiny_checkpoint[0] / "config.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="config.json"):
        ssi.load_model(tiny_checkpoint[0])
    (tiny_checkpoint[0] / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    from simplestories_interp.errors import UnsupportedArchitectureError

    with pytest.raises(UnsupportedArchitectureError, match="gpt2"):
        ssi.load_model(tiny_checkpoint[0])


def test_models_that_need_remote_code_are_refused(monkeypatch):
    """TransformerLens sets trust_remote_code for some hub families; the library refuses before any download
    unless asked (issue 25), and lets the loader run when the person passes it explicitly."""
    import transformers
    from transformer_lens import HookedTransformer

    from simplestories_interp.cli import main
    from simplestories_interp.errors import RemoteCodeError
    from simplestories_interp.zoo import loading

    calls = []

    def tl_loader(name, **kwargs):  # what TransformerLens does for such a family
        calls.append(name)
        transformers.AutoConfig.from_pretrained(name, trust_remote_code=True)

    monkeypatch.setattr(loading, "_transformer_lens_names", lambda: {"acme/remote-7b", "Qwen/Qwen-7B"})
    monkeypatch.setattr(loading.hub, "is_offline", lambda: False)
    monkeypatch.setattr(HookedTransformer, "from_pretrained_no_processing", tl_loader)
    original = transformers.AutoConfig.__dict__["from_pretrained"]
    with pytest.raises(RemoteCodeError, match="trust_remote_code"):
        ssi.load_model("acme/remote-7b")
    with pytest.raises(RemoteCodeError, match="--trust-remote-code"):
        ssi.load_model("Qwen/Qwen-7B")  # listed by TransformerLens as needing remote code: refused up front
    assert calls == ["acme/remote-7b"] and transformers.AutoConfig.__dict__["from_pretrained"] is original
    assert main(["generate", "acme/remote-7b"]) == 2
    seen = []
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained",
                        classmethod(lambda cls, name, **kw: seen.append(kw.get("trust_remote_code"))))
    assert ssi.load_model("acme/remote-7b", trust_remote_code=True) is None  # the fake loader ran, unguarded
    assert seen == [True]

import pytest

from simplestories_interp import zoo
from simplestories_interp.errors import UnknownModelError
from simplestories_interp.zoo import registry

# Parameter counts from the SimpleStories table (tied embedding counted once).
TABLE = {
    "1.25M": (1_245_824, 1_235_968),
    "5M": (5_374_208, 5_354_496),
    "11M": (11_015_040, 10_985_472),
    "30M": (29_627_904, 29_588_480),
    "35M": (35_133_952, 35_094_528),
}


@pytest.mark.parametrize("size", TABLE)
def test_parameter_counts_match_the_published_table(size):
    v1, v2 = TABLE[size]
    assert zoo.get_spec(f"SimpleStories-{size}").n_params == v1
    assert zoo.get_spec(f"SimpleStories-V2-{size}").n_params == v2


def test_parameter_count_equals_a_real_model(tiny_spec):
    from simplestories_interp.zoo.loading import build_model

    model = build_model(tiny_spec, device="cpu")
    # HookedTransformer keeps W_U separate from W_E and zero biases; count what Llama has.
    counted = sum(p.numel() for n, p in model.named_parameters() if ".b_" not in n and "b_U" not in n
                  and "._b_" not in n and n != "unembed.W_U")
    assert counted == tiny_spec.n_params


def test_architectures_and_hub_ids():
    spec = zoo.get_spec("SimpleStories-5M")
    assert (spec.n_layers, spec.d_model, spec.n_heads, spec.d_head) == (6, 256, 4, 64)
    assert (spec.n_key_value_heads, spec.d_mlp, spec.d_vocab, spec.n_ctx) == (2, 682, 4096, 512)
    assert spec.hub_id == "SimpleStories/SimpleStories-5M"
    v2 = zoo.get_spec("SimpleStories-V2-35M")
    assert v2.d_vocab == 4019 and v2.hub_id == "SimpleStories/SimpleStories-V2-35M"
    assert len([n for n in zoo.names() if n.startswith("SimpleStories")]) == 10
    assert zoo.DEFAULT_MODEL in zoo.names()


def test_variants_resolve_by_name():
    ctx = zoo.get_spec("SimpleStories-5M-ctx128")
    assert ctx.n_ctx == 128 and ctx.normalization == "rms" and ctx.hub_id is None
    noln = zoo.get_spec("SimpleStories-1.25M-noLN")
    assert noln.normalization == "none" and noln.n_ctx == 512
    assert noln.n_params == 1_245_824 - (2 * 4 + 1) * 128
    both = zoo.get_spec("SimpleStories-V2-11M-ctx64-noLN")
    assert (both.n_ctx, both.normalization, both.d_vocab) == (64, "none", 4019)
    assert zoo.weights_location(both) == "not trained yet"
    assert zoo.get_spec("SimpleStories-5M").variant(n_ctx=256).name == "SimpleStories-5M-ctx256"


def test_rotary_dim_is_per_entry():
    spec = zoo.get_spec("SimpleStories-5M")
    assert spec.rotary_dims == 64
    partial = zoo.ModelSpec(**{**spec.__dict__, "rotary_dim": 42})
    assert partial.rotary_dims == 42
    with pytest.raises(ValueError, match="rotary_dim"):
        zoo.ModelSpec(**{**spec.__dict__, "rotary_dim": 43})


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownModelError, match="SimpleStories-5M"):
        zoo.get_spec("SimpleStories-5m")
    with pytest.raises(UnknownModelError, match="Did you mean"):
        zoo.get_spec("SimpleStoris-1.25M-noLN")


@pytest.mark.parametrize("field,value", [("n_layers", 0), ("d_vocab", 1), ("n_ctx", 1),
                                         ("normalization", "layer"), ("n_key_value_heads", 3)])
def test_spec_validation(tiny_spec, field, value):
    with pytest.raises(ValueError, match=field if field != "n_key_value_heads" else "multiple"):
        zoo.ModelSpec(**{**tiny_spec.__dict__, field: value})


def test_local_directories_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_MODELS_PATH", str(tmp_path))
    (tmp_path / "SimpleStories-5M-ctx128").mkdir()
    (tmp_path / "SimpleStories-5M-ctx128" / "config.json").write_text("{}")
    spec = zoo.get_spec("SimpleStories-5M-ctx128")
    assert zoo.local_dir(spec) == tmp_path / "SimpleStories-5M-ctx128"
    assert zoo.weights_location(spec).startswith("local: ")
    assert "SimpleStories-5M-ctx128" in [s.name for s in zoo.entries()]


def test_register_custom_entry(tiny_spec):
    try:
        zoo.register(tiny_spec)
        assert zoo.get_spec("tiny") is tiny_spec
        with pytest.raises(ValueError, match="exists"):
            zoo.register(tiny_spec)
    finally:
        registry._REGISTRY.pop("tiny", None)

"""The memory lower bounds (memory.py): what they count, and that a sweep is not charged for every SAE's
hidden features at once (the SAEs step one after another)."""

from simplestories_interp.memory import FLOAT, TOKEN, sae_bytes, training_bytes


def test_training_bound_counts_weights_moments_batch_and_one_micro_batch_of_logits():
    need = training_bytes(n_params=1000, d_vocab=10, n_ctx=5, batch_size=8, micro_batch_size=2)
    assert need == 3 * 1000 * FLOAT + 8 * 5 * TOKEN + 2 * 2 * 4 * 10 * FLOAT
    assert training_bytes(1000, 10, 5, 8, 2, held=1000 * FLOAT) == need - 1000 * FLOAT  # weights already loaded


def test_a_sweep_holds_one_saes_hidden_features_at_a_time():
    one = sae_bytes([(256, 16384)], 4096)
    eight = sae_bytes([(256, 16384)] * 8, 4096)
    weights = 8 * 256 * 16384 * FLOAT
    assert one == weights + 4096 * 256 * FLOAT + 4096 * 2 * 16384 * FLOAT
    assert eight == 8 * weights + 4096 * 256 * FLOAT + 4096 * 2 * 16384 * FLOAT  # one batch, one hidden


def test_studies_do_not_refuse_transformer_lens_names():
    from simplestories_interp.zoo.loading import _transformer_lens_names, require_loadable

    assert "gpt2" in _transformer_lens_names()
    require_loadable("gpt2")  # loaded through TransformerLens, which resolve() does not know

"""The one resume helper shared by the trainer, norm removal and the SAE trainer."""

import pytest
import torch

from simplestories_interp.checkpoints import list_checkpoints, load_latest, save_checkpoint
from simplestories_interp.errors import ConfigError


def test_save_keep_and_resume_exactly(tmp_path):
    weights = {"w": torch.arange(6.0).reshape(2, 3)}
    assert load_latest(tmp_path, "fp") is None
    for step in (10, 20, 30):
        torch.manual_seed(step)
        save_checkpoint(tmp_path, step, weights, {"optimizer": {"lr": step}}, fingerprint="fp",
                        info={"tokens": step * 7}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_0000020", "step_0000030"]
    expected_draw = torch.rand(3)  # what the RNG gives right after the last save
    torch.manual_seed(999)
    ckpt = load_latest(tmp_path, "fp")
    assert ckpt.step == 30 and ckpt.info["tokens"] == 210 and ckpt.state == {"optimizer": {"lr": 30}}
    assert torch.equal(ckpt.tensors["w"], weights["w"])
    assert torch.equal(torch.rand(3), expected_draw)  # the RNG continues where the run was saved


def test_refuses_a_checkpoint_of_other_settings_and_ignores_partial_ones(tmp_path):
    save_checkpoint(tmp_path, 5, {"w": torch.zeros(1)}, {}, fingerprint="a")
    with pytest.raises(ConfigError, match="other settings"):
        load_latest(tmp_path, "b")
    (tmp_path / "checkpoints" / "step_0000009").mkdir()  # killed before state.json: not a checkpoint
    assert load_latest(tmp_path, "a").step == 5

import json
import subprocess
import sys

import pytest

from simplestories_interp.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_zoo_table(capsys):
    code, out, _ = run(capsys, "zoo")
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == ["name", "params", "layers", "d_model", "heads", "kv_heads", "n_ctx", "norm", "weights"]
    assert "SimpleStories-V2-35M" in out and "hub: SimpleStories/SimpleStories-5M" in out


def test_zoo_json_and_info(capsys):
    code, out, _ = run(capsys, "zoo", "--json")
    rows = json.loads(out)
    assert {r["name"]: r["params"] for r in rows}["SimpleStories-1.25M"] == 1_245_824
    code, out, _ = run(capsys, "info", "SimpleStories-1.25M-noLN")
    assert code == 0 and "normalization      none" in out and "not trained yet" in out
    assert "load it" not in out and "train it: ssi train --model SimpleStories-1.25M-noLN" in out


def test_info_on_a_model_folder(capsys, tiny_checkpoint):
    """A model folder is described from its own config (it used to be an unknown zoo name)."""
    code, out, _ = run(capsys, "info", str(tiny_checkpoint[0]))
    assert code == 0 and f"local: {tiny_checkpoint[0]}" in out and "load it: ssi.load_model(" in out


def test_learned_position_bases_keep_their_names():
    from simplestories_interp import zoo

    spec = zoo.get_spec("SynthStories-1M-paper-ctx64")
    assert (spec.name, spec.positional, spec.n_ctx) == ("SynthStories-1M-paper-ctx64", "absolute", 64)
    assert "learned absolute" not in spec.description


def test_generate(capsys, tiny_checkpoint):
    code, out, _ = run(capsys, "generate", str(tiny_checkpoint[0]), "--prompt", "once upon",
                       "--max-new-tokens", "8", "--seed", "3")
    assert code == 0 and out.startswith("once upon")
    assert run(capsys, "generate", str(tiny_checkpoint[0]), "--prompt", "once upon",
               "--max-new-tokens", "8", "--seed", "3")[1] == out
    others = {run(capsys, "generate", str(tiny_checkpoint[0]), "--prompt", "once upon", "--max-new-tokens", "8",
                  "--seed", str(seed))[1] for seed in (4, 5, 6)}
    assert others - {out}, "--seed changes nothing: is it sampling at all?"


@pytest.mark.parametrize("argv,needle", [
    (["info", "SimpleStories-5"], "Did you mean"),
    (["generate", "SimpleStoriez-5M"], "Did you mean"),
    (["generate", "/does/not/exist"], "does not exist"),
    (["generate", "SimpleStories-11M"], "HF_HUB_OFFLINE"),
    (["generate", "SimpleStories-5M-ctx128"], "no weights yet"),
    (["generate", "SimpleStories-5M", "--max-new-tokens", "0"], "max-new-tokens"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_bad_dtype_and_corrupt_weights(capsys, tiny_checkpoint):
    code, _, err = run(capsys, "generate", str(tiny_checkpoint[0]), "--dtype", "int4")
    assert code == 2 and "unknown dtype" in err
    (tiny_checkpoint[0] / "model.safetensors").write_bytes(b"junk")
    code, _, err = run(capsys, "generate", str(tiny_checkpoint[0]))
    assert code == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1


def test_console_script_exit_code():
    out = subprocess.run([sys.executable, "-m", "simplestories_interp", "info", "nonsense-model"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("ssi: error: unknown model")
    assert "Traceback" not in out.stderr


def test_data_synth_and_stats(capsys, tmp_path):
    code, out, _ = run(capsys, "data", "synth", str(tmp_path / "d"), "--n-stories", "12", "--shard-size", "5")
    assert code == 0 and "12 stories in 3 shard(s)" in out
    lines = (tmp_path / "d" / "train-00000-of-00003.jsonl").read_text().splitlines()
    assert len(lines) == 5 and "annotations" in json.loads(lines[0])
    code, out, _ = run(capsys, "data", "stats", "--n-stories", "300", "--json")
    report = json.loads(out)
    assert code == 0 and report["duplicate_stories"] == 0 and report["stories"] == 300


def test_train_cli_with_yaml_and_overrides(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SSI_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: SynthStories-1.25M\nn_ctx: 32\nn_stories: 200\nvocab_size: 300\n"
                   "batch_size: 4\nmax_steps: 50\ndevice: cpu\nsamples: [once]\n")
    code, out, err = run(capsys, "train", "--config", str(cfg), "--max-steps", "3",
                         "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert "max_steps: 3" in (tmp_path / "run" / "config.yaml").read_text()
    code, out, _ = run(capsys, "generate", str(tmp_path / "run" / "model"), "--max-new-tokens", "3")
    assert code == 0 and out.startswith("once upon a time")


@pytest.mark.parametrize("argv,needle", [
    (["train", "--model", "SimpleStories-55M"], "Did you mean"),
    (["train", "--batch-size", "10", "--micro-batch-size", "3"], "multiple of micro_batch_size"),
    (["train", "--data", "/no/such/file.txt", "--out", "/tmp/ssi-never"], "does not exist"),
])
def test_train_bad_input(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_misspelled_yaml_key(capsys, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("batchsize: 8\n")
    code, _, err = run(capsys, "train", "--config", str(cfg))
    assert code == 2 and "unknown config key 'batchsize'" in err and "batch_size" in err


def test_resume_is_a_command_option_not_a_config_key(capsys, tmp_path):
    """A run file that says `resume: true` must not silently continue another run (--resume does)."""
    cfg = tmp_path / "run.yaml"
    cfg.write_text("resume: true\n")
    code, _, err = run(capsys, "train", "--config", str(cfg))
    assert code == 2 and "unknown config key 'resume'" in err


@pytest.mark.parametrize("yaml_text,needle", [
    ("lr: 3e-3\n", "config key 'lr' must be float, got '3e-3' (str) (YAML reads 3e-3 without a dot as text"),
    ("max_steps: ten\n", "config key 'max_steps' must be int, got 'ten'"),
    ("samples: [once, 2]\n", "config key 'samples' must be list[str]"),
    ("normalization: layer\n", "config key 'normalization' must be Optional[Literal['rms', 'none']]"),
])
def test_wrongly_typed_yaml_value_names_the_key(capsys, tmp_path, yaml_text, needle):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    code, _, err = run(capsys, "train", "--config", str(cfg))
    assert code == 2 and needle in err, err


def test_only_library_errors_become_one_line(capsys, monkeypatch):
    """A user error prints one line and exits 2; any other exception is a bug and keeps its traceback."""
    from simplestories_interp import cli
    from simplestories_interp.errors import InvalidArgumentError

    def user_error(args):
        raise InvalidArgumentError("bad value 'x'; use 'y'")

    def bug(args):
        raise ValueError("an internal invariant broke")

    for fn, expect_exit in ((user_error, True), (bug, False)):
        monkeypatch.setitem(cli.COMMANDS, "zoo", (cli.ZooConfig, fn))
        if expect_exit:
            code, out, err = run(capsys, "zoo")
            assert code == 2 and err == "ssi: error: bad value 'x'; use 'y'\n"
        else:
            with pytest.raises(ValueError, match="internal invariant"):
                main(["zoo"])


@pytest.mark.parametrize("argv,needle", [
    (["data", "synth", "--n-stories", "0"], "must be positive"),
    (["sae", "train", "--tokens", "0"], "--tokens must be positive"),
    (["sae", "sweep", "--ks", "64", "--d-sae", "32"], "must be smaller than d_sae"),
    (["noln", "--batch-size", "10", "--micro-batch-size", "4"], "multiple of micro_batch_size"),
    (["reproduce", "tinystories", "--head-stories", "0"], "must be positive"),
    (["generate", "--temperature", "-1"], "--temperature must be zero or more, got -1.0"),
    (["neurons", "--data", "synthetic:abc"], "must be a non-negative integer"),
])
def test_config_errors_are_library_errors(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1, err


@pytest.mark.parametrize("command", ["generate", "cache", "neurons", "heads", "noln", "train", "sae train"])
def test_every_command_takes_the_model_both_ways(command):
    """One rule for naming the model: MODEL or --model MODEL, in every subcommand (and both must agree)."""
    from simplestories_interp.cli import build_parser
    from simplestories_interp.dataclass_args import merge_model_forms
    from simplestories_interp.errors import ConfigError

    words = command.split()
    for argv in ([*words, "SynthStories-1L"], [*words, "--model", "SynthStories-1L"]):
        ns = build_parser().parse_args(argv)
        merge_model_forms(ns)
        assert ns.model == "SynthStories-1L", argv
    ns = build_parser().parse_args([*words, "SynthStories-1L", "--model", "SynthStories-1.25M"])
    with pytest.raises(ConfigError, match="given twice"):
        merge_model_forms(ns)


def test_a_misspelled_zoo_name_is_refused_before_torch_loads():
    """It used to take ~6 s (torch and TransformerLens imported first); now the process never imports torch."""
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    argv = [sys.executable, "-X", "importtime", "-m", "simplestories_interp", "heads", "SynthStories-1LL"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Did you mean 'SynthStories-1L'" in out.stderr
    assert "| torch\n" not in out.stderr and " torch\n" not in out.stderr.replace("|", "")
    assert time.perf_counter() - start < 30

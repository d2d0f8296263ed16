"""The reliability case table (docs/reliability.md): every bad input is one line, exit 2, no traceback.

Each row of ``CASES`` is (case id, command, what the message must say). The commands run
in-process against a small world of bad files built once per module (a file where a folder is
expected, a config.json that is a list, JSON lines that are not objects, a corrupt SAE, ...).
Cases that need a fault injected (permission denied, a full disk, a busy folder) are the tests
below the table. ``test_docs_list_every_case`` keeps the docs table and this one in step.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from simplestories_interp.cli import main
from tests.helpers import save_hf_checkpoint

CASES = [
    # silent wrong results, now refused
    ("keep-checkpoints-zero", "train --keep-checkpoints 0", "--keep-checkpoints must be positive, got 0"),
    ("keep-checkpoints-negative", "train --keep-checkpoints -2", "--keep-checkpoints must be positive, got -2"),
    ("resume-without-checkpoint", "train --resume --out {w}/fresh_run", "nothing to resume"),
    ("cache-attention-pattern", "cache {model} --hooks blocks.0.attn.hook_pattern --out {w}/pattern_store",
     "is not token-shaped"),
    ("sae-less-than-a-batch", "sae train --tokens 1", "must be at least one batch"),
    # hangs
    ("cache-rows-per-shard-zero", "cache --rows-per-shard 0", "--rows-per-shard must be positive, got 0"),
    ("cache-rows-per-shard-negative", "cache --rows-per-shard -4", "--rows-per-shard must be positive, got -4"),
    ("cache-batch-size-zero", "cache --batch-size 0", "--batch-size must be positive, got 0"),
    ("cache-batch-size-negative", "cache --batch-size -1", "--batch-size must be positive, got -1"),
    # tracebacks that are one line now
    ("config-json-list", "generate {w}/list_config", "must hold a JSON object"),
    ("zero-heads", "generate {w}/zero_heads", "num_attention_heads"),
    ("jsonl-not-objects", "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/not_objects.jsonl",
     "is not a JSON object"),
    ("train-out-is-file", "train --out {w}/a_file.txt", "is a file, but a folder is needed"),
    ("sae-out-is-file", "sae train --out {w}/a_file.txt", "is a file, but a folder is needed"),
    ("synth-out-is-file", "data synth --out {w}/a_file.txt", "is a file, but a folder is needed"),
    ("neurons-out-is-folder", "neurons {model} --hook blocks.0.mlp.hook_post --out {w}", "is a folder, but a file"),
    ("features-out-is-folder", "sae features {sae} --out {w}", "is a folder, but a file"),
    ("out-not-writable", "data synth --out /proc/ssi-cannot-write", "cannot write to"),
    ("threads-negative", "train --threads -1", "--threads must be positive, got -1"),
    ("sae-log-every-zero", "sae train --log-every 0", "--log-every must be positive, got 0"),
    ("sae-checkpoint-every-zero", "sae train --checkpoint-every 0", "--checkpoint-every must be positive, got 0"),
    ("neurons-k-zero", "neurons --k 0", "--k must be positive, got 0"),
    ("neurons-k-negative", "neurons --k -3", "--k must be positive, got -3"),
    ("features-out-of-range", "sae features {sae} --features 99999", "out of range"),
    ("features-negative", "sae features {sae} --features -1", "--features must be zero or more, got -1"),
    ("stats-negative-stories", "data stats --n-stories -5", "--n-stories must be positive, got -5"),
    ("yaml-string-number", "train --config {w}/lr.yaml", "config key 'lr' must be float, got '1e-3'"),
    ("unknown-user-home", "train --out ~no-such-user-ssi/run", "unknown user's home"),
    ("corrupt-sae-weights", "sae eval {sae_corrupt}", "corrupt"),
    ("noln-too-few-stories", "noln {model} --n-stories 1 --out {w}/noln", "at least one of each is needed"),
    ("out-empty", "train --out ''", "--out must name a folder"),
    ("out-other-artifact", "cache {model} --hooks blocks.0.hook_resid_post --out {w}/train_run",
     "holds a training run, not an activation store"),
    # output pages never replace what the library did not write (issue 25)
    ("neurons-out-replaces-model-file", "neurons {model} --hook blocks.0.mlp.hook_post --out {model}/config.json",
     "an input of this command"),
    ("neurons-out-is-the-corpus", "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/stories.txt "
     "--out {w}/stories.txt", "an input of this command"),
    ("features-out-in-sae", "sae features {sae} --out {sae}/cfg.json", "an input of this command"),
    ("features-out-foreign-file", "sae features {sae} --out {w}/a_file.txt", "exists and was not written by ssi"),
    ("neurons-out-in-store", "neurons {model} --hook blocks.0.mlp.hook_post --out {w}/store/page.html",
     "inside an activation store folder"),
    # non-finite or impossible numbers (issue 25)
    ("train-lr-inf", "train --lr inf", "--lr must be a finite number, got inf"),
    ("sae-lr-inf", "sae train --lr inf", "--lr must be a finite number, got inf"),
    ("noln-lr-inf", "noln --lr inf", "--lr must be a finite number, got inf"),
    ("sae-l1-inf", "sae train --l1 inf", "--l1 must be a finite number, got inf"),
    ("thresholds-nan", "heads --thresholds positional_share=nan", "must be finite and non-negative"),
    ("train-beta1-one", "train --beta1 1.0", "--beta1 must be at least 0 and below 1, got 1.0"),
    ("train-seed-huge", "train --seed 9223372036854775808", "--seed must be below 2**63"),
    ("synth-fills-the-disk", "data synth --n-stories 9000000000000 --out {w}/huge", "GiB free; write fewer"),
    # sizes that cannot fit, refused before allocating (issue 25)
    ("train-batch-too-large", "train --batch-size 100000000 --max-steps 2 --out {w}/big_train", "GiB of memory"),
    ("noln-batch-too-large", "noln {model} --batch-size 10000000000 --out {w}/big_noln", "lower --batch-size"),
    ("sae-d-sae-too-large", "sae train --model {model} --hook blocks.0.hook_resid_post --data {w}/stories.txt "
     "--d-sae 100000000 --out {w}/big_sae", "lower --d-sae"),
    # bad files and bytes that used to end in a traceback (issue 25)
    ("parquet-int-text", "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/ints.parquet",
     "must hold the stories' text (strings), but its type is int64"),
    ("jsonl-story-number", "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/five.jsonl",
     "line 1: 'story' must be the story's text (a JSON string), got int 5"),
    ("config-is-folder", "train --config {w}/list_config", "is a folder; give the YAML file"),
    ("config-not-utf8", "train --config {w}/latin1.yaml", "is not UTF-8 text"),
    ("config-utf16-is-read", "train --config {w}/utf16.yaml", "--max-steps must be positive, got 0"),
    ("prompt-not-utf8", "generate {model} --prompt 'Once \udcff upon'", "is not valid UTF-8 (byte 0xff"),
    ("out-not-utf8", "train --out {w}/run\udcfe", "is not valid UTF-8 (byte 0xfe"),
    ("sae-cfg-negative-d-sae", "sae eval {w}/sae_negative", "d_sae must be a positive whole number, got -1"),
    ("neurons-one-huge-line", "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/one_line.txt",
     "its stories are not separated"),
    ("train-one-huge-line", "train --data {w}/one_line.txt --out {w}/one_line_run", "its stories are not separated"),
    # found by the rotating fuzz slice: refused, but only after minutes of work (issue 25)
    ("study-misspelled-second-model", "reproduce norm-free --head-model SimpleStoriez-1L --out {w}/nf",
     "unknown model 'SimpleStoriez-1L'"),
    ("stats-missing-tokenizer", "data stats --tokenizer /nonexistent/ssi/tok", "does not exist"),
    ("option-prefix", "train --max-step 5", "unrecognized arguments: --max-step"),
    ("unknown-subcommand", "sae trian", "invalid choice: 'trian'"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory, tokenizer_factory):
    """The bad (and a few good) files the cases point at."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from simplestories_interp import zoo
    from simplestories_interp.sae.config import SAEConfig
    from simplestories_interp.sae.training import make_sae

    w = tmp_path_factory.mktemp("world")
    (w / "a_file.txt").write_text("not a folder\n")
    (w / "list_config").mkdir()
    (w / "list_config" / "config.json").write_text("[1, 2]")
    (w / "list_config" / "model.safetensors").write_bytes(b"")
    spec = zoo.ModelSpec(name="tiny", n_layers=1, d_model=32, n_heads=4, d_head=8, n_key_value_heads=2, d_mlp=48,
                         d_vocab=300, n_ctx=64)
    model = w / "model"
    save_hf_checkpoint(model, spec, tokenizer_factory(300))
    (model / "training_config.json").write_text(json.dumps({"n_ctx": 64}))
    (w / "zero_heads").mkdir()
    config = json.loads((model / "config.json").read_text())
    config.pop("head_dim", None)
    (w / "zero_heads" / "config.json").write_text(json.dumps({**config, "num_attention_heads": 0}))
    (w / "zero_heads" / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes())
    (w / "not_objects.jsonl").write_text('[1, 2]\n"a story"\n')
    (w / "five.jsonl").write_text('{"story": 5}\n')
    (w / "one_line.txt").write_text("the girl ran to the park and " * 40_000)  # 1.2M characters, no separator
    pq.write_table(pa.table({"text": [1, 2, 3]}), w / "ints.parquet")
    pq.write_table(pa.table({"story": pa.array(["Tom saw a dog. " * 10] * 8).dictionary_encode()}),
                   w / "categorical.parquet")  # pandas writes a categorical column like this: it is text
    (w / "latin1.yaml").write_bytes("lr: 0.001 # café\n".encode("latin-1"))
    (w / "utf16.yaml").write_bytes("max_steps: 0\n".encode("utf-16"))
    (w / "lr.yaml").write_text("lr: 1e-3\n")
    (w / "stories.txt").write_text("Once upon a time, a girl named Sue had a kite.\n\nTom saw a dog.\n")
    (w / "store").mkdir()
    (w / "store" / "manifest.json").write_text("{}")
    (w / "store" / "shard_00000.safetensors").write_bytes(b"")
    (w / "train_run").mkdir()
    (w / "train_run" / "config.yaml").write_text("model: SynthStories-1.25M\n")
    meta = {"model_name": str(model), "hook_name": "blocks.0.hook_resid_post", "context_size": 64,
            "prepend_bos": True}
    make_sae(SAEConfig(arch="standard", d_sae=64), 32, meta).save_inference_model(str(w / "sae"))
    make_sae(SAEConfig(arch="standard", d_sae=64), 32, meta).save_inference_model(str(w / "sae_corrupt"))
    for weights in (w / "sae_corrupt").glob("*.safetensors"):
        weights.write_bytes(b"\x00junk")
    shutil.copytree(w / "sae", w / "sae_negative")
    cfg = json.loads((w / "sae" / "cfg.json").read_text())
    (w / "sae_negative" / "cfg.json").write_text(json.dumps({**cfg, "d_sae": -1}))
    return w


def run(capsys, argv: list[str]) -> tuple[int, str, float]:
    start = time.perf_counter()
    code = main(argv)
    return code, capsys.readouterr().err, time.perf_counter() - start


def assert_one_line_error(code: int, err: str, seconds: float, needle: str = "") -> None:
    """Exit 2 and the error as one line; progress bars of work done before the error may precede it."""
    assert code == 2, err
    lines = [line for line in err.replace("\r", "\n").split("\n") if "ssi: error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].endswith(lines[0].split("ssi: error: ", 1)[1]) and needle in lines[0], err
    assert seconds < 30, f"took {seconds:.0f} s"


def argv_of(command: str, world: Path) -> list[str]:
    import shlex

    return shlex.split(command.format(w=world, model=world / "model", sae=world / "sae",
                                      sae_corrupt=world / "sae_corrupt"))


@pytest.mark.parametrize("case,command,needle", CASES, ids=[c[0] for c in CASES])
def test_case_table(capsys, world, case, command, needle):
    assert_one_line_error(*run(capsys, argv_of(command, world)), needle)


def test_refused_runs_leave_nothing_behind(capsys, world):
    for case in ("resume-without-checkpoint", "cache-attention-pattern", "noln-too-few-stories"):
        command = dict((c[0], c[1]) for c in CASES)[case]
        run(capsys, argv_of(command, world))
        out = Path(argv_of(command, world)[argv_of(command, world).index("--out") + 1])
        assert not out.exists(), f"{case} left {out}"
    # nor the parent folders it made for its --out (a folder or a page)
    for command in ("cache {model} --hooks blocks.0.attn.hook_pattern --out {w}/new_parent/sub/store",
                    "neurons {model} --hook blocks.0.mlp.hook_post --data {w}/not_objects.jsonl "
                    "--out {w}/new_parent/sub/page.html"):
        assert_one_line_error(*run(capsys, argv_of(command, world)))
        assert not (world / "new_parent").exists(), command


def test_a_categorical_text_column_is_read(capsys, world):
    code, err, _ = run(capsys, ["neurons", str(world / "model"), "--hook", "blocks.0.mlp.hook_post", "--data",
                                str(world / "categorical.parquet"), "--k", "2"])
    assert code == 0, err


def test_a_failed_run_removes_only_what_it_made(tmp_path):
    """Parents are compared normalised ('new/../existing' must not reach a folder that existed), and a
    study's finished artifacts below its folder (an SAE under saes/) count as progress and are kept."""
    from simplestories_interp.files import claim_output

    (tmp_path / "existing").mkdir()
    with pytest.raises(RuntimeError), claim_output(tmp_path / "new" / ".." / "existing" / "run", "report"):
        raise RuntimeError("the job failed")
    assert (tmp_path / "existing").is_dir() and not (tmp_path / "existing" / "run").exists()
    with pytest.raises(KeyboardInterrupt), claim_output(tmp_path / "study", "report") as out:
        with claim_output(out / "saes" / "rms", "SAE") as sae:
            (sae / "sae_weights.safetensors").write_bytes(b"weights")
        raise KeyboardInterrupt
    assert (tmp_path / "study" / "saes" / "rms" / "sae_weights.safetensors").is_file()


def test_docs_list_every_case():
    table = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text()
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, flags=re.M))
    missing = [c[0] for c in CASES if c[0] not in listed]
    assert not missing, f"docs/reliability.md lacks {missing}"


def test_busy_output_folder_is_refused(capsys, world, tmp_path):
    from simplestories_interp.files import claim_output

    with claim_output(tmp_path / "busy", "activation store"):
        code, err, seconds = run(capsys, ["cache", str(world / "model"), "--hooks", "blocks.0.hook_resid_post",
                                          "--out", str(tmp_path / "busy"), "--n-stories", "4"])
    assert_one_line_error(code, err, seconds, "is being written by another ssi job (pid ")
    with claim_output(tmp_path / "busy", "activation store"):  # released: claimable again
        pass


def test_unreadable_weights_say_permission_denied(capsys, world, monkeypatch):
    from simplestories_interp.zoo import formats

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(world / "model" / "model.safetensors"))

    monkeypatch.setattr(formats, "load_file", denied)
    code, err, seconds = run(capsys, ["generate", str(world / "model"), "--max-new-tokens", "2"])
    assert_one_line_error(code, err, seconds, "permission denied")
    assert "delete" not in err.lower() and "corrupt" not in err.lower()


def test_unreadable_model_folder(capsys, world, monkeypatch):
    """A folder without read/search permission: stat of its files fails with EACCES (root cannot chmod-test)."""
    real = Path.is_file

    def denied(self):
        if self.parent == world / "model":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", denied)
    code, err, seconds = run(capsys, ["generate", str(world / "model"), "--max-new-tokens", "2"])
    assert_one_line_error(code, err, seconds, "ermission denied")


def test_full_disk_is_named(capsys, tmp_path, monkeypatch):
    import errno

    import simplestories_interp.data.corpus.synthetic as synthetic

    real_open = open

    def full(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(synthetic, "open", full, raising=False)
    code, err, seconds = run(capsys, ["data", "synth", "--out", str(tmp_path / "d"), "--n-stories", "3"])
    assert_one_line_error(code, err, seconds, "no space left on device while writing")


def test_full_disk_inside_torch_save(tmp_path, monkeypatch):
    """torch.save reports ENOSPC as a RuntimeError about a failed write: it must still read 'no space left'."""
    import shutil

    import torch

    from simplestories_interp.checkpoints import save_checkpoint
    from simplestories_interp.errors import DiskFullError

    def failing_save(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(torch, "save", failing_save)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))
    with pytest.raises(DiskFullError, match="no space left on device"):
        save_checkpoint(tmp_path / "run", 1, {"w": torch.zeros(2)}, {}, fingerprint="f")
    assert not list((tmp_path / "run" / "checkpoints").glob("step_*"))


def test_missing_n_ctx_in_training_config_falls_back(capsys, world, tmp_path):
    """A model folder whose training_config.json lacks n_ctx loads (n_ctx from config.json), no traceback."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(world / "model", model)
    (model / "training_config.json").write_text(json.dumps({"lr": 0.001}))
    code = main(["generate", str(model), "--max-new-tokens", "2"])
    assert code == 0, capsys.readouterr().err
    import simplestories_interp as ssi

    expected = json.loads((model / "config.json").read_text())["max_position_embeddings"]
    with pytest.warns(UserWarning, match=f"no n_ctx in a training_config.json.*n_ctx={expected}|"
                                         f"max_position_embeddings={expected} as n_ctx"):
        loaded = ssi.load_model(model, device="cpu")
    assert loaded.cfg.n_ctx == expected  # the fallback is the config's, not a default


FULL_DISK_JOBS = {
    "train": "train --model SynthStories-1.25M --n-ctx 32 --n-stories 60 --vocab-size 300 --batch-size 2 "
             "--max-steps 2 --checkpoint-every 1 --device cpu --out {w}/full_train",
    "cache": "cache {model} --hooks blocks.0.hook_resid_post --data {w}/long.txt --rows-per-shard 1 "
             "--out {w}/full_store",
    "sae-train": "sae train --store {w}/good_store --model {model} --hook blocks.0.hook_resid_post --tokens 256 "
                 "--batch-size 64 --d-sae 32 --k 4 --checkpoint-every 1 --out {w}/full_sae",
}


@pytest.mark.parametrize("job", list(FULL_DISK_JOBS))
def test_full_disk_in_long_jobs_is_one_line(capsys, world, monkeypatch, job):
    """safetensors words a full disk as its own SafetensorError (neither OSError nor RuntimeError): the jobs
    that write weights (train, cache, sae train) used to end in that traceback."""
    import safetensors.torch
    from safetensors import SafetensorError

    monkeypatch.setenv("SSI_CACHE_DIR", str(world / "cache"))
    (world / "long.txt").write_text("Once upon a time, a girl named Sue had a red kite. " * 40 + "\n")
    if job == "sae-train" and not (world / "good_store").exists():
        assert main(argv_of(FULL_DISK_JOBS["cache"].replace("full_store", "good_store"), world)) == 0
    capsys.readouterr()

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    code, err, seconds = run(capsys, argv_of(FULL_DISK_JOBS[job], world))
    assert_one_line_error(code, err, seconds, "no space left on device while writing")
    assert ".tmp" not in err.split("ssi: error:")[1]  # names the --out a person chose, not a temporary file


def test_pages_the_library_wrote_are_replaced_atomically(tmp_path, monkeypatch):
    """A page ssi wrote may be replaced; a write that fails (full disk) leaves the old page whole."""
    import errno

    from simplestories_interp.errors import DiskFullError
    from simplestories_interp.files import ensure_file_target
    from simplestories_interp.render import views

    page = views.write(tmp_path / "page.html", views.page("first", "<p>old</p>"))
    assert ensure_file_target(page) == page  # ours: replaceable
    real = Path.write_bytes

    def full(self, data, *args, **kwargs):
        real(self, data[:100], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(DiskFullError):
        views.write(page, views.page("second", "<p>new</p>" * 1000))
    monkeypatch.setattr(Path, "write_bytes", real)
    assert "<p>old</p>" in page.read_text() and page.read_text().endswith("</html>")
    (tmp_path / "config.json").write_text("{}")  # a project folder with a config.json is not a model folder
    assert ensure_file_target(tmp_path / "other.html") == tmp_path / "other.html"


def test_an_incomplete_store_is_refused_and_verify_says_so(capsys, world, tmp_path):
    """A store whose ssi cache run was killed (manifest complete: false) is not used by ssi sae train, and
    --verify says it is incomplete (its shards still match)."""
    store = tmp_path / "store"
    assert main(["cache", str(world / "model"), "--hooks", "blocks.0.hook_resid_post", "--out", str(store),
                 "--n-stories", "20", "--rows-per-shard", "2"]) == 0
    manifest = json.loads((store / "manifest.json").read_text())
    (store / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    capsys.readouterr()
    code, err, seconds = run(capsys, ["cache", "--verify", "--out", str(store)])
    assert_one_line_error(code, err, seconds, "is incomplete: the ssi cache run that wrote it stopped after")
    code, err, seconds = run(capsys, ["sae", "train", "--model", str(world / "model"), "--hook",
                                      "blocks.0.hook_resid_post", "--store", str(store), "--out", str(tmp_path / "s"),
                                      "--batch-size", "64", "--tokens", "128"])
    assert_one_line_error(code, err, seconds, "rerun that ssi cache command")


def test_python_configs_refuse_what_the_cli_refuses():
    import math

    from simplestories_interp.errors import ConfigError
    from simplestories_interp.sae.config import SAEConfig
    from simplestories_interp.training.config import TrainConfig

    cases = ((lambda: TrainConfig(lr=math.inf), "finite"), (lambda: TrainConfig(lr=math.nan), "positive"),
             (lambda: TrainConfig(max_steps=2.5), "whole number"), (lambda: SAEConfig(lr=math.inf), "finite"),
             (lambda: TrainConfig(beta2=1.0), "below 1"), (lambda: TrainConfig(seed=2**64), "2\\*\\*63"))
    for make, match in cases:
        with pytest.raises(ConfigError, match=match):
            make()
    assert TrainConfig(max_steps=3.0).max_steps == 3.0  # a whole float is accepted as it is


def test_a_batch_larger_than_the_store_is_refused(capsys, world, tmp_path):
    """It used to wait for a full batch forever."""
    store = tmp_path / "store"
    assert main(["cache", str(world / "model"), "--hooks", "blocks.0.hook_resid_post", "--out", str(store),
                 "--n-stories", "10"]) == 0
    capsys.readouterr()
    code, err, seconds = run(capsys, ["sae", "train", "--model", str(world / "model"), "--hook",
                                      "blocks.0.hook_resid_post", "--store", str(store), "--out", str(tmp_path / "s"),
                                      "--batch-size", "100000", "--tokens", "100000"])
    assert_one_line_error(code, err, seconds, "is larger than the store")


def test_python_api_bad_arguments_are_one_clear_error(world, tmp_path, monkeypatch):
    """The Python API used to raise bare AttributeError/TypeError or write a folder named 'None'."""
    import simplestories_interp as ssi
    from simplestories_interp.analysis.heads import head_statistics
    from simplestories_interp.errors import InvalidArgumentError, MissingDirectoryError

    monkeypatch.chdir(tmp_path)
    model = ssi.load_model(world / "model")
    hook = "blocks.0.hook_resid_post"
    with pytest.raises(MissingDirectoryError, match="got None"):
        ssi.cache_activations(model, hook, None)
    with pytest.raises(InvalidArgumentError, match="n_stories must be a positive integer, got -1"):
        ssi.cache_activations(model, hook, tmp_path / "s", n_stories=-1)
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive integer, got 0"):
        head_statistics(model, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="a HookedTransformer or a model name"):
        head_statistics(3)
    with pytest.raises(InvalidArgumentError, match="prompt 'Once \\\\udcff' is not valid UTF-8|not valid UTF-8"):
        ssi.generate(model, "Once \udcff")
    assert list(tmp_path.iterdir()) == []  # nothing written: no folder named None
    data = tmp_path / "stories.txt"
    data.write_text("Once upon a time, a girl named Sue had a red kite. " * 30)
    store = ssi.cache_activations(str(world / "model"), hook, tmp_path / "store", source=str(data), progress=False)
    assert store.n_tokens > 0  # a name or folder is loaded, as load_model takes it

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


def test_generate(capsys, tiny_checkpoint):
    code, out, _ = run(capsys, "generate", str(tiny_checkpoint[0]), "--prompt", "once upon",
                       "--max-new-tokens", "8", "--seed", "3")
    assert code == 0 and out.startswith("once upon")
    assert run(capsys, "generate", str(tiny_checkpoint[0]), "--prompt", "once upon",
               "--max-new-tokens", "8", "--seed", "3")[1] == out


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

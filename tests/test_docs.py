"""Every example in README.md and docs/*.md runs: one test per page.

The fenced blocks of a page run in order in one fresh working directory, so what an earlier
block writes (an activation store made by ``ssi cache``, a trained model, a YAML file) feeds the
later ones.

- ```python blocks are executed in one namespace per page (read like a notebook), in a fresh
  Python process.
- ```bash blocks: ``\\`` continuations are joined, ``# comments`` dropped and ``&&`` chains split;
  each command is then handled by its first words:

  - ``ssi ...`` (or ``python -m simplestories_interp ...``) runs for real and must exit with 0;
  - ``torchrun ... -m simplestories_interp ...`` is parsed like a parse-only ``ssi`` command
    (below): it starts several processes, which a test on 2 CPU cores cannot;
  - ``python SCRIPT.py ...`` (benchmarks and experiments: measurements of minutes to hours) is
    validated, not run: the script must exist in the repository and its ``--help`` must list
    every ``--option`` the page uses;
  - ``make TARGET`` is validated, not run (it installs a virtual environment): the target must
    exist in the Makefile;
  - anything else (``pip ...``) is skipped, and listed as skipped in the page's log.

- A block right after the line ``<!-- docs-test: parse-only -->`` is a long measured run that is
  validated, not run: each ``ssi`` command is parsed with ``cli.build_parser()`` and its config
  dataclass constructed as ``cli.main`` does (``TrainConfig`` through ``load_config`` for
  ``ssi train``), so stale flags and invalid values still fail; python code is compiled.
- A block right after ``<!-- docs-test: file NAME -->`` (e.g. a YAML config) is written to NAME
  in the working directory. Other blocks (no language, text, diagrams) are not run.

Every relative link of a page, and every path into the repository's folders that its prose
names (``benchmarks/...``, ``tests/...``, ``simplestories_interp/...``), must exist in the
repository. docs/architecture.md is included only if it has python or bash blocks.

Isolation: the Hub is offline (tests/conftest.py); the hub checkpoints a page loads (e.g.
``SimpleStories-5M``) are random weights of the exact architecture laid out in a temporary HF
cache, and ``SSI_CACHE_DIR`` is temporary; both are shared by the pages of a session.

Speed: a fork server imports torch, TransformerLens and SAELens once. Each ``ssi`` command runs
``python -m simplestories_interp``'s ``__main__`` in a process forked from it (a fresh process
but for the interpreter start-up), python blocks run in a forked worker that never forks.
``SSI_DOCS_TEST_SPAWN=1`` runs each command as ``sys.executable -m simplestories_interp ...`` and
each page in a new interpreter instead: slower, the same results.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SPAWN = os.environ.get("SSI_DOCS_TEST_SPAWN") == "1"
PAGE_TIMEOUT = 900
MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
RUNNABLE = ("python", "bash")
# Imported once by the fork server (importing starts no computation, so forking stays safe).
PRELOAD = (
    "numpy", "torch", "transformers", "transformer_lens", "sae_lens", "tokenizers", "safetensors", "yaml",
    "tqdm.auto", *(f"simplestories_interp.{m}" for m in (
        "cli", "zoo.loading", "zoo.sampling", "data.packing", "data.synthetic", "data.diversity",
        "analysis.activations", "analysis.neurons", "analysis.heads", "analysis.attribution", "sae.training",
        "sae.features", "training.trainer", "training.noln", "report.tinystories", "report.views")),
)


# --- reading pages ---------------------------------------------------------------------------

@dataclass
class Block:
    lang: str
    line: int
    """Page line of the block's first line of code."""
    code: str
    marker: str | None
    """What ``<!-- docs-test: ... -->`` right before the fence says, if anything."""


def read_blocks(page: Path) -> list[Block]:
    lines, blocks, i = page.read_text().splitlines(), [], 0
    while i < len(lines):
        fence = re.match(r"\s*```\s*([\w+-]*)", lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        marker = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        blocks.append(Block(fence.group(1).lower(), i + 2, "\n".join(lines[i + 1:end]), marker and marker.group(1)))
        i = end + 1
    return blocks


def _pages() -> list[Path]:
    pages = [ROOT / "README.md"]
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name == "architecture.md" and not any(b.lang in RUNNABLE for b in read_blocks(page)):
            continue
        pages.append(page)
    return pages


def shell_commands(code: str, first_line: int) -> list[tuple[int, list[str]]]:
    """(page line, argv) of each command of a bash block."""
    commands, logical, start = [], "", None
    for number, line in enumerate(code.splitlines(), first_line):
        start = number if start is None else start
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        words, argv = shlex.split(logical + line, comments=True), []
        for word in [*words, "&&"]:
            if word == "&&":
                commands += [(start, argv)] if argv else []
                argv = []
            else:
                argv.append(word)
        logical, start = "", None
    return commands


def command_step(argv: list[str], parse_only: bool) -> dict:
    """What to do with one shell command (see the module docstring)."""
    if argv[0] == "ssi":
        return {"kind": "ssi", "argv": argv[1:], "parse_only": parse_only}
    if argv[:3] == ["python", "-m", "simplestories_interp"]:
        return {"kind": "ssi", "argv": argv[3:], "parse_only": parse_only}
    if argv[0] == "torchrun" and "-m" in argv and argv[argv.index("-m") + 1:][:1] == ["simplestories_interp"]:
        return {"kind": "ssi", "argv": argv[argv.index("-m") + 2:], "parse_only": True,
                "why": "torchrun starts several processes: the ssi command is parsed, not run"}
    if argv[0] in ("python", "python3") and len(argv) > 1 and argv[1].endswith(".py"):
        return {"kind": "script", "path": argv[1], "argv": argv[2:]}
    if argv[0] == "make":
        return {"kind": "make", "targets": [a for a in argv[1:] if "=" not in a and not a.startswith("-")]}
    return {"kind": "skip", "why": "not an ssi command, a repository script or a make target"}


def page_plan(page: Path) -> list[dict]:
    steps = []
    for block in read_blocks(page):
        origin = f"{page.relative_to(ROOT)}:{block.line}"
        marker = block.marker or ""
        if marker.startswith("file "):
            steps.append({"kind": "file", "origin": origin, "path": marker[5:].strip(), "content": block.code + "\n"})
            continue
        assert marker in ("", "parse-only"), f"{origin}: unknown marker <!-- docs-test: {marker} -->"
        if block.lang == "python":
            steps.append({"kind": "python", "origin": origin, "page": str(page), "line": block.line,
                          "code": block.code, "parse_only": marker == "parse-only"})
        elif block.lang == "bash":
            for line, argv in shell_commands(block.code, block.line):
                step = command_step(argv, marker == "parse-only")
                steps.append({**step, "origin": f"{page.relative_to(ROOT)}:{line}", "text": shlex.join(argv)})
    return steps


def _prose(page: Path) -> str:
    return re.sub(r"^\s*```.*?^\s*```", "", page.read_text(), flags=re.M | re.S)


def broken_references(page: Path) -> list[str]:
    """Relative links that do not resolve inside the repository, and repository paths that do not exist."""
    text, broken = _prose(page), []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(f"link {target}")
    folders = "benchmarks|docs|experiments|models|notebooks|tests|simplestories_interp"
    for path in re.findall(rf"(?<![\w/.~-])((?:{folders})/[\w./-]*\w)", text):
        if not (ROOT / path).exists():
            broken.append(f"path {path}")
    broken += [f"path outside the repository {p}" for p in re.findall(r"`((?:\.\./|/work/|shared/)[^`]*)`", text)]
    return broken


# --- running a page (in its own process: the fork server's child, or a new interpreter) --------

def _exit_code(target) -> int:
    try:
        target()
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1


def _fork(target, stdout: Path | None = None) -> int:
    """Run ``target`` in a forked child (stdout to a file if given) as a process would; its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if stdout is not None:
                os.dup2(os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
            code = _exit_code(target)
            import atexit
            import gc

            atexit._run_exitfuncs()
            gc.collect()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _run_ssi(argv: list[str]) -> int:
    if SPAWN:
        return subprocess.run([sys.executable, "-m", "simplestories_interp", *argv]).returncode

    def main() -> None:
        import runpy

        sys.argv = ["ssi", *argv]
        runpy.run_module("simplestories_interp", run_name="__main__", alter_sys=True)

    return _fork(main)


def _parse_ssi(argv: list[str]) -> str | None:
    """Parse a command and build its config as ``cli.main`` does; the error, if any."""
    from simplestories_interp import cli
    from simplestories_interp.dataclass_args import given
    from simplestories_interp.training.config import TrainConfig, load_config

    try:
        ns = cli.build_parser().parse_args(argv)
        config, run = cli.COMMANDS[ns._command]
        args = config(**given(ns, config))
        if run is cli.run_train:
            load_config(args.config, **given(ns, TrainConfig))
    except SystemExit as exc:
        return f"the command line parser refused it (exit status {exc.code})"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _script_help(script: Path, out: Path) -> int:
    if SPAWN:
        with open(out, "w") as f:
            return subprocess.run([sys.executable, str(script), "--help"], stdout=f).returncode

    def main() -> None:
        import runpy

        sys.argv = [str(script), "--help"]
        runpy.run_path(str(script), run_name="__main__")

    return _fork(main, stdout=out)


class _Worker:
    """A process that executes the page's python blocks in one namespace."""

    def __init__(self) -> None:
        to_worker, self._requests = os.pipe()
        self._replies, from_worker = os.pipe()
        if SPAWN:
            self._proc = subprocess.Popen([sys.executable, __file__, "worker", str(to_worker), str(from_worker)],
                                          pass_fds=(to_worker, from_worker))
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            self._pid = os.fork()
            if self._pid == 0:  # pragma: no cover - the child
                os.close(self._requests)
                os.close(self._replies)
                os._exit(_exit_code(lambda: _worker_loop(to_worker, from_worker)))
        os.close(to_worker)
        os.close(from_worker)
        self._out, self._in = os.fdopen(self._requests, "w"), os.fdopen(self._replies)

    def run(self, code: str, filename: str, line: int) -> str | None:
        self._out.write(json.dumps({"code": "\n" * (line - 1) + code, "filename": filename}) + "\n")
        self._out.flush()
        reply = self._in.readline()
        return None if reply and json.loads(reply) else ("it raised (traceback above)" if reply else "the worker died")

    def close(self) -> None:
        self._out.close()
        self._in.close()
        if SPAWN:
            self._proc.wait()
        else:
            os.waitpid(self._pid, 0)


def _worker_loop(rfd: int, wfd: int) -> None:
    namespace = {"__name__": "__main__"}
    with os.fdopen(rfd) as requests, os.fdopen(wfd, "w") as replies:
        for request in requests:
            msg = json.loads(request)
            ok = _exit_code(lambda msg=msg: exec(compile(msg["code"], msg["filename"], "exec"), namespace)) == 0
            sys.stdout.flush()
            sys.stderr.flush()
            replies.write(json.dumps(ok) + "\n")
            replies.flush()


def _do(step: dict, worker: list) -> str | None:
    """Run or validate one step; the reason it failed, if it did."""
    kind = step["kind"]
    if kind == "file":
        Path(step["path"]).parent.mkdir(parents=True, exist_ok=True)
        Path(step["path"]).write_text(step["content"])
    elif kind == "python" and step["parse_only"]:
        compile("\n" * (step["line"] - 1) + step["code"], step["page"], "exec")
    elif kind == "python":
        if not worker:
            worker.append(_Worker())
        return worker[0].run(step["code"], step["page"], step["line"])
    elif kind == "ssi" and step["parse_only"]:
        return _parse_ssi(step["argv"])
    elif kind == "ssi":
        code = _run_ssi(step["argv"])
        return f"exit status {code}" if code else None
    elif kind == "script":
        script = ROOT / step["path"]
        if not script.is_file():
            return f"{step['path']} does not exist in the repository"
        help_file = Path(".docs-test-help.txt")
        code = _script_help(script, help_file)
        text = help_file.read_text()
        help_file.unlink()
        if code:
            return f"{step['path']} --help failed with exit status {code}"
        unknown = [o for o in (a.split("=")[0] for a in step["argv"] if a.startswith("--"))
                   if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
        return f"{step['path']} has no option {', '.join(unknown)} (see its --help)" if unknown else None
    elif kind == "make":
        targets = set(re.findall(r"^([\w.-]+)\s*:", (ROOT / "Makefile").read_text(), re.M))
        missing = [t for t in step["targets"] if t not in targets]
        return f"no make target {', '.join(missing)}" if missing else None
    return None


def run_plan(steps: list[dict]) -> int:
    """Run a page's steps in order in the current directory; 0 if all passed."""
    sys.stdout.reconfigure(line_buffering=True)
    worker: list[_Worker] = []
    try:
        for step in steps:
            what = step.get("text") or f"{step['kind']} block"
            how = {"file": "written", "script": "validated", "make": "validated", "skip": "skipped"}.get(step["kind"])
            how = how or ("parsed" if step.get("parse_only") else "run")
            print(f"\n### {step['origin']} ({how}{': ' + step['why'] if step.get('why') else ''}): {what}")
            start = time.perf_counter()
            try:
                error = _do(step, worker)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            print(f"### ({time.perf_counter() - start:.1f} s)")
            if error:
                print(f"\nFAILED {step['origin']}: {what}\n    {error}")
                return 1
        return 0
    finally:
        if worker:
            worker[0].close()


def _page_process(request: dict) -> int:
    """The fork server's child for one page: output to the log, the page's env and directory."""
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    return _exit_code(lambda: sys.exit(run_plan(json.loads(Path(request["plan"]).read_text()))))


def _serve() -> None:
    """Fork server: one request (a JSON line) per page, answered with the page's exit code."""
    import importlib

    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the page's own run reports it properly
            print(f"preloading {module} failed: {exc}", file=sys.stderr)
    for line in sys.stdin:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                code = _page_process(json.loads(line))
            finally:
                os._exit(code)
        print(json.dumps(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])), flush=True)


class _Runner:
    """Runs page plans: through one fork server per environment, or each in a new interpreter."""

    def __init__(self, errors: Path) -> None:
        self._server, self._env, self._errors, self._stderr = None, None, errors, None

    def run(self, plan: Path, log: Path, cwd: Path, env: dict) -> int:
        if SPAWN:
            with open(log, "w") as out:
                return subprocess.run([sys.executable, __file__, "page", str(plan)], cwd=cwd, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=PAGE_TIMEOUT).returncode
        if self._server is None or self._env != env or self._server.poll() is not None:
            self.close()  # library constants read at import (the hub's cache paths) must match the page's env
            self._stderr = open(self._errors, "a")
            self._server = subprocess.Popen([sys.executable, __file__, "serve"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=cwd,
                                            text=True)
            self._env = env
        request = {"plan": str(plan), "log": str(log), "cwd": str(cwd), "env": env}
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        import select

        if not select.select([self._server.stdout], [], [], PAGE_TIMEOUT)[0]:
            self.close()
            pytest.fail(f"the page ran for more than {PAGE_TIMEOUT} s", pytrace=False)
        reply = self._server.stdout.readline()
        if not reply:
            self.close()
            pytest.fail(f"the fork server died:\n{self._errors.read_text()[-4000:]}", pytrace=False)
        return json.loads(reply)

    def close(self) -> None:
        if self._server is not None:
            self._server.stdin.close()
            try:
                self._server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None
            self._stderr.close()


# --- the tests -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docs_env(tmp_path_factory) -> dict[str, str]:
    """A temporary HF cache and SSI cache shared by the pages (one fork server serves them all)."""
    base = tmp_path_factory.mktemp("docs_env")
    return {"HF_HOME": str(base / "hf"), "HF_HUB_CACHE": str(base / "hf" / "hub"),
            "SSI_CACHE_DIR": str(base / "ssi_cache"), "SSI_TRACEBACK": "1"}


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    r = _Runner(tmp_path_factory.mktemp("docs_server") / "stderr.txt")
    yield r
    r.close()


def _hub_checkpoints(steps: list[dict], request) -> None:
    """Lay out random-weight checkpoints of the hub repos that the page's runnable steps name."""
    from simplestories_interp import zoo
    from tests.helpers import build_hf_cache, save_hf_checkpoint

    code = " ".join(s.get("code", "") + " " + s.get("text", "") for s in steps if not s.get("parse_only"))
    cache = Path(os.environ["HF_HUB_CACHE"])
    for name in sorted(set(re.findall(r"SimpleStories-[\w.-]*\w", code))):
        spec = zoo.get_spec(name) if zoo.is_zoo_name(name) else None
        if spec is None or not spec.hub_id or (cache / ("models--" + spec.hub_id.replace("/", "--"))).exists():
            continue
        source = cache.parent / "sources" / name
        save_hf_checkpoint(source, spec, request.getfixturevalue("tokenizer_factory")(spec.d_vocab))
        build_hf_cache(cache, spec.hub_id, source)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path, docs_env, runner, request, monkeypatch):
    assert not broken_references(page), f"{page.name}: broken references {broken_references(page)}"
    steps = page_plan(page)
    for key, value in docs_env.items():
        monkeypatch.setenv(key, value)
    if not steps:
        return
    _hub_checkpoints(steps, request)
    work, plan, log = tmp_path / "work", tmp_path / "plan.json", tmp_path / "log.txt"
    work.mkdir()
    plan.write_text(json.dumps(steps))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # the same for every page
    code = runner.run(plan, log, work, env)
    output = log.read_text()
    print(output)
    if code:
        pytest.fail(f"{page.relative_to(ROOT)}: an example failed; the end of the page's log:\n{output[-12000:]}",
                    pytrace=False)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve()
    elif sys.argv[1] == "worker":
        _worker_loop(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "page":
        sys.exit(run_plan(json.loads(Path(sys.argv[2]).read_text())))

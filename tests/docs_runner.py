"""Runs the plan of one docs page (see tests/test_docs.py): the fork server, the per-page process
and the steps (``ssi`` commands, python blocks, script and make checks).

Run as a script it is the fork server (``serve``), a python-block worker (``worker``) or one page
in a new interpreter (``page PLAN``); it imports nothing from the test package, since it starts
as a script.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPAWN = os.environ.get("SSI_DOCS_TEST_SPAWN") == "1"
PAGE_TIMEOUT = 900
# Imported once by the fork server (importing starts no computation, so forking stays safe).
PRELOAD = (
    "numpy", "torch", "transformers", "transformer_lens", "sae_lens", "tokenizers", "safetensors", "yaml",
    "tqdm.auto", *(f"simplestories_interp.{m}" for m in (
        "cli", "zoo.loading", "zoo.sampling", "data.packing", "data.corpus.synthetic", "data.corpus.diversity",
        "analysis.activations", "analysis.neurons", "analysis.heads", "analysis.attribution", "sae.training",
        "sae.features", "training.trainer", "training.noln", "studies.tinystories", "render.views")),
)


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
    from simplestories_interp.dataclass_args import build_config

    try:
        ns = cli.build_parser().parse_args(argv)
        build_config(cli.COMMANDS[ns._command][0], ns)
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


class Runner:
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


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve()
    elif sys.argv[1] == "worker":
        _worker_loop(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "page":
        sys.exit(run_plan(json.loads(Path(sys.argv[2]).read_text())))

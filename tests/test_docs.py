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
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs_runner import ROOT, Runner

pytestmark = pytest.mark.slow

MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
RUNNABLE = ("python", "bash")


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
        code = textwrap.dedent("\n".join(lines[i + 1:end]))  # a block inside a list item is indented
        blocks.append(Block(fence.group(1).lower(), i + 2, code, marker and marker.group(1)))
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


# --- the tests -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docs_env(tmp_path_factory) -> dict[str, str]:
    """A temporary HF cache and SSI cache shared by the pages (one fork server serves them all)."""
    base = tmp_path_factory.mktemp("docs_env")
    return {"HF_HOME": str(base / "hf"), "HF_HUB_CACHE": str(base / "hf" / "hub"),
            "SSI_CACHE_DIR": str(base / "ssi_cache"), "SSI_TRACEBACK": "1"}


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    r = Runner(tmp_path_factory.mktemp("docs_server") / "stderr.txt")
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

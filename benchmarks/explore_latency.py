"""How fast `ssi explore` answers on 2 cores: start-up and each kind of request, against a bare forward pass.

    python benchmarks/explore_latency.py [--model SynthStories-1.25M] [--repeats 20]

Start-up is timed twice: a new ``ssi explore`` process until it prints its URL (imports included),
and loading the model and building the explorer in this process.
Each request runs through the web app (Starlette's test client, so HTTP parsing and JSON count)
on the same prompt; the baseline is a bare ``model(tokens)`` on that prompt in the same run, and
the ratio says how many forward passes a request costs. A component page is timed twice: its first
visit (the corpus scan of its layer, then cached on disk) and a later one.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from starlette.testclient import TestClient

from simplestories_interp.explore.config import ExploreConfig
from simplestories_interp.explore.launch import build_explorer
from simplestories_interp.explore.server import build_app

PROMPT = "Once upon a time, Lily found a red ball in the park. She gave the ball to her friend Tom, and they"


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def process_startup(model: str, cache: str) -> float:
    """Seconds from starting ``ssi explore`` to its printed URL."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "simplestories_interp", "explore", model, "--port", "0",
                             "--cache", cache, "--device", "cpu"], stdout=subprocess.PIPE, text=True)
    try:
        while "http://" not in (line := proc.stdout.readline()):
            if not line:
                raise RuntimeError("ssi explore exited before printing its URL")
        return time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SynthStories-1.25M")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as cache:
        to_url = process_startup(args.model, cache)
        start = time.perf_counter()
        explorer = build_explorer(ExploreConfig(model=args.model, cache=cache, device="cpu", n_stories=60))
        startup = time.perf_counter() - start
        client = TestClient(build_app(explorer))
        tokens = explorer.model.to_tokens(PROMPT)
        with torch.no_grad():
            forward = median_seconds(lambda: explorer.model(tokens), args.repeats)
        last = tokens.shape[1] - 1
        base = {"prompt": PROMPT, "pos": last, "target": "the"}
        top = client.get("/api/attribute", params=base).json()["rows"][0]["id"]
        requests = {
            "predict": ("/api/predict", {"prompt": PROMPT}),
            "why (attribute)": ("/api/attribute", base),
            "why, top component zero-ablated": ("/api/attribute", {**base, "ablate": top}),
            "why, top component mean-ablated": ("/api/attribute", {**base, "ablate": top, "mode": "mean"}),
            "component page (cached)": (f"/api/component/{top}", {"prompt": PROMPT}),
        }
        start = time.perf_counter()
        client.get("/api/component/L1N0", params={"prompt": PROMPT})
        first_visit = time.perf_counter() - start
        print(f"model {args.model}, prompt of {tokens.shape[1]} tokens, {torch.get_num_threads()} threads")
        print(f"start-up of a new process to its printed URL: {to_url:.2f} s (in this process: {startup:.2f} s)")
        print(f"bare forward (baseline): {1000 * forward:.1f} ms")
        for name, (path, params) in requests.items():
            t = median_seconds(lambda p=path, q=params: client.get(p, params=q).raise_for_status(), args.repeats)
            print(f"{name}: {1000 * t:.1f} ms  ({t / forward:.1f}x a forward)")
        print(f"component page, first visit of its layer (corpus scan): {1000 * first_visit:.0f} ms")


if __name__ == "__main__":
    main()

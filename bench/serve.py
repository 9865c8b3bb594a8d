"""Serving: one-row latency of a trained run in-process and over HTTP (``trainwright serve``), with load.

    .venv/bin/python bench/serve.py                    # 10,000 requests per concurrency level (about 25 minutes)
    .venv/bin/python bench/serve.py --requests 2000    # quicker
    .venv/bin/python bench/serve.py --markdown-only    # the table again from bench/results/serve.json

Two runs on the bundled penguins table, trained from the CLI as a user would: ``model.type=linear`` and the default
(``auto``: a bagged, weighted ensemble). For each:

- bare model: the learners alone on an already-preprocessed row (``learner.output``), the floor any serving adds to;
- in-process: ``ModelService.predict_rows`` on one JSON row (what the server calls: frame, preprocessing, model,
  probabilities as JSON);
- HTTP: ``trainwright serve RUN`` (one uvicorn worker) answering ``POST /predict`` with one row, from N client
  threads each holding a keep-alive connection, at concurrency 1, 8 and 64, after 500 warm-up requests. p50/p99
  latency, requests per second, the server's resident memory before and after, and errors. The client runs on the
  same 2 cores as the server, so the throughput is a floor.

- onnxruntime: the run exported (``trainwright export``) and run alone on one row's inputs (whole graph:
  preprocessing, models, pooling, labels), in-process through the server's code (``ModelService(onnx=...)``),
  and over HTTP with ``trainwright serve RUN --onnx FILE``.

Writes bench/results/serve.json and bench/results/serve.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = Path("/tmp/trainwright-bench-serve")
ROW = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0, "flipper_length_mm": 215.0,
       "body_mass_g": 5200.0, "sex": "male", "year": 2008}


def train(model: str) -> Path:
    out = WORK / model
    if not (out / "run.json").exists():
        data = ROOT / "src" / "trainwright" / "datasets" / "penguins.csv"
        subprocess.run([sys.executable, "-m", "trainwright", "train", str(data), "--target", "species", "--out",
                        str(out), "--set", f"model.type={model}"], check=True, capture_output=True)
    return out


def in_process(run: Path, repeats: int = 2000) -> dict:
    import trainwright
    from trainwright.deploy.export import export_onnx
    from trainwright.deploy.service import ModelService

    model = trainwright.load(run)
    service = ModelService(model)
    frame = service.frame({k: [v] for k, v in ROW.items()})
    members = [(learner, pre.transform(frame)) for pre, learner in service.predictor.members]
    bare = _timed(lambda: [learner.output(X) for learner, X in members], repeats)
    full = _timed(lambda: service.predict_rows([ROW]), repeats)
    graph = run / "bench.onnx"
    export_onnx(model, graph)
    onnx = ModelService(model, onnx=str(graph))
    feeds = {c: [ROW.get(c)] for c in onnx.graph.inputs}
    return {"members": len(members), "bare_model_p50_ms": bare, "in_process_p50_ms": full, "onnx": str(graph),
            "onnx_graph_p50_ms": _timed(lambda: onnx.graph.run(feeds), repeats),
            "onnx_in_process_p50_ms": _timed(lambda: onnx.predict_rows([ROW]), repeats)}


def _timed(fn, repeats: int) -> float:
    for _ in range(50):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 3)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def load(port: int, requests: int, concurrency: int) -> tuple[list[float], int, float]:
    """(latencies in seconds, errors, wall seconds) of ``requests`` POST /predict from ``concurrency`` threads."""
    body = json.dumps(ROW).encode()
    latencies, errors, lock = [], [0], threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(n):
            t = time.perf_counter()
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 200:
                errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
    threads = [threading.Thread(target=client, args=(n,)) for n in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - started


def over_http(run: Path, requests: int, *extra: str) -> list[dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "trainwright", "serve", str(run), "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port)
        rows = []
        for concurrency in (1, 8, 64):
            load(port, 500, concurrency)
            before = rss_mb(proc.pid)
            latencies, errors, wall = load(port, requests, concurrency)
            after = rss_mb(proc.pid)
            ms = np.array(latencies) * 1000
            rows.append({"concurrency": concurrency, "requests": requests, "errors": errors,
                         "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
                         "requests_per_s": round(requests / wall, 1), "rss_before_mb": round(before, 1),
                         "rss_after_mb": round(after, 1), "rss_growth_pct": round(100 * (after / before - 1), 2)})
            print(f"  concurrency {concurrency}: {rows[-1]}", flush=True)
        return rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not start")


def markdown(results: dict) -> str:
    lines = [f"Serving one penguins row ({results['when']}, {results['machine']}; `{results['command']}`)", "",
             "In-process, one row, p50 ms:", "",
             "| model | members | bare model(s), eager | onnxruntime, whole graph | in-process, Python predictor | "
             "in-process, ONNX graph |", "|" + "---|" * 6]
    for model, r in results["models"].items():
        lines.append(f"| {model} | {r['members']} | {r['bare_model_p50_ms']} | {r['onnx_graph_p50_ms']} | "
                     f"{r['in_process_p50_ms']} | {r['onnx_in_process_p50_ms']} |")
    lines += ["", "Over HTTP (`trainwright serve`, one worker):", "",
              "| model | backend | concurrency | p50 ms | p99 ms | requests/s | RSS before → after MB | errors |",
              "|" + "---|" * 8]
    for model, r in results["models"].items():
        for backend, key in (("Python", "http"), ("ONNX", "http_onnx")):
            for h in r[key]:
                lines.append(f"| {model} | {backend} | {h['concurrency']} | {h['p50_ms']} | {h['p99_ms']} | "
                             f"{h['requests_per_s']} | {h['rss_before_mb']} → {h['rss_after_mb']} "
                             f"({h['rss_growth_pct']:+}%) | {h['errors']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    if not args.markdown_only:
        WORK.mkdir(parents=True, exist_ok=True)
        results = {"when": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, {platform.machine()}",
                   "command": "python bench/serve.py" + (f" --requests {args.requests}" if args.requests != 10_000 else ""),
                   "models": {}}
        for model in ("linear", "auto"):
            run = train(model)
            print(model, flush=True)
            timings = in_process(run)
            results["models"][model] = {**timings, "http": over_http(run, args.requests),
                                        "http_onnx": over_http(run, args.requests, "--onnx", timings["onnx"])}
            print(f"  in-process: {results['models'][model]}", flush=True)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "serve.json").write_text(json.dumps(results, indent=2))
    text = markdown(json.loads((RESULTS / "serve.json").read_text()))
    (RESULTS / "serve.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""``trainwright export`` (the predictor as one ONNX graph), ``compress`` (a smaller copy of a run), ``serve`` (a trained run behind HTTP), ``drift`` (new
rows against the run's reference) and ``retrain`` (a challenger on old and new rows, promoted only when better)."""

from __future__ import annotations

import os

from pathlib import Path

from trainwright.cli.common import fmt, refuse_overwrite, say

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    """The ``export``, ``compress``, ``serve``, ``drift`` and ``retrain`` commands."""
    for add in (_export_parser, _compress_parser, _serve_parser, _drift_parser, _retrain_parser):
        add(sub)


def _export_parser(sub) -> None:
    e = sub.add_parser("export", help="write the run's whole predictor as one ONNX graph (raw columns in)",
                       description="Write the run's preprocessing, model(s), calibration and threshold as one ONNX "
                                   "graph taking the raw columns, after checking that onnxruntime gives the run's "
                                   "test rows the same probabilities (within 1e-5).")
    e.add_argument("run", help="run directory written by `trainwright train`")
    e.add_argument("--format", choices=["onnx", "torchscript"], default="onnx",
                   help="onnx (default): the whole predictor on raw columns; torchscript: a neural run's network on "
                        "preprocessed features")
    e.add_argument("-o", "--output", help="the file (default model.onnx, or model.pt for torchscript)")
    e.add_argument("--force", action="store_true", help="replace the output file if it exists")
    e.set_defaults(handler=_export)


def _compress_parser(sub) -> None:
    c = sub.add_parser("compress", help="write a smaller copy of a run (int8, pruned, or a distilled student)",
                       description="Write a new run, beside the parent unless --out says where, holding a smaller "
                                   "model: quantize (neural networks' weight matrices stored as int8), prune (the "
                                   "smallest weights, or a LightGBM model's last rounds, removed and the rest "
                                   "fine-tuned on the training rows) or distill (a small student trained on the "
                                   "parent's probabilities). Its run.json and report compare size, latency, test "
                                   "score and agreement with the parent's.")
    c.add_argument("run", help="run directory written by `trainwright train`")
    c.add_argument("--method", choices=["quantize", "prune", "distill"], required=True, help="how to compress")
    c.add_argument("--amount", type=float, default=0.5, help="prune: the share removed (default 0.5)")
    c.add_argument("--student", choices=["lightgbm", "linear", "mlp"], default="lightgbm",
                   help="distill: the student's model type (default lightgbm)")
    c.add_argument("--synthetic", type=int, metavar="ROWS",
                   help="distill: synthetic rows the parent labels (default 3 per training row, at most 50,000)")
    c.add_argument("--time-budget", type=float, metavar="SECONDS", help="bound for the fine-tune or the student")
    c.add_argument("--out", help="the new run's directory (default: beside the parent, <time>-<parent>-<method>)")
    c.add_argument("--seed", type=int, help="seed (default: the parent's recipe's)")
    c.set_defaults(handler=_compress)


def _compress(args) -> int:
    import trainwright
    from trainwright.cli.common import RichReporter

    done = trainwright.compress(args.run, args.method, out=args.out, amount=args.amount, student=args.student,
                                synthetic=args.synthetic, time_budget=args.time_budget, seed=args.seed,
                                reporter=RichReporter())
    z = done.info["compression"]
    say(f"Compressed run: {done.path}")
    say(z["what"])
    say(z["summary"])
    if (done.path / "report.html").is_file():
        say(f"Report: {done.path / 'report.html'}")
    return 0


def _serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="answer predictions over HTTP (FastAPI under uvicorn)",
                       description="Serve a trained table or text run: POST /predict (one row as a JSON object), "
                                   "POST /predict/batch (a JSON array or CSV), GET /health, /ready, /metadata, "
                                   "/metrics, the Open Inference Protocol v2 routes, and the API's own "
                                   "documentation at /docs. Stop it with Ctrl-C (requests in flight finish).")
    s.add_argument("run", help="run directory written by `trainwright train`")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--workers", type=int, default=1,
                   help="processes answering requests (default 1); each loads the model and keeps its own /metrics")
    s.add_argument("--api-key-env", metavar="VAR",
                   help="name of the environment variable holding the API key every request but the health "
                        "probes must send in the X-API-Key header")
    s.add_argument("--max-body-mb", type=float, default=10.0,
                   help="largest request body accepted, in MB (default 10; larger bodies get 413)")
    s.add_argument("--name", help="the model's name in the v2 routes (default: the run folder's name)")
    s.add_argument("--onnx", metavar="FILE", help="answer with this graph (from `trainwright export RUN`) in "
                                                  "onnxruntime instead of the Python predictor")
    s.set_defaults(handler=_serve)


def _drift_parser(sub) -> None:
    d = sub.add_parser("drift", help="compare new rows with what a run was trained on (exit 3 on drift)",
                       description="Test every input column and the predictions of NEW rows against the reference "
                                   "statistics the run kept, estimate accuracy from the probabilities, and score "
                                   "the rows when they hold the target. Exit code: 0 no drift, 3 drift, 2 an error.")
    d.add_argument("run", help="run directory written by `trainwright train`")
    d.add_argument("data", help="new rows (CSV, Parquet or JSON Lines), with or without the target column")
    d.add_argument("-o", "--output", help="write the HTML page here (e.g. drift.html)")
    d.add_argument("--json", dest="json_out", metavar="FILE", help="write the result as JSON here ('-': stdout)")
    d.add_argument("--share", type=float, default=0.5,
                   help="declare drift when at least this share of the columns drifted (default 0.5), or the "
                        "predictions did")
    d.add_argument("--force", action="store_true", help="replace the output files if they exist")
    d.set_defaults(handler=_drift)


def _retrain_parser(sub) -> None:
    r = sub.add_parser("retrain", help="train a challenger on old and new rows; promote it only when it is better",
                       description="Train a challenger with the champion's recipe on its data file and the new "
                                   "labelled rows, compare both on the newest rows of NEW (held out from "
                                   "training), promote the challenger only when its loss is lower beyond the 95% "
                                   "interval, and record it all in registry.json beside the run.")
    r.add_argument("run", help="the champion: a run directory written by `trainwright train`")
    r.add_argument("data", help="new labelled rows, oldest first (CSV, Parquet or JSON Lines)")
    r.add_argument("--time-budget", type=float, metavar="SECONDS", help="wall-time bound for the challenger")
    r.add_argument("--holdout", type=float, default=0.3,
                   help="share of the new rows (the newest) kept out of training to compare the models (default 0.3)")
    r.add_argument("--window", type=int, metavar="ROWS",
                   help="train on only the most recent ROWS rows of old and new together (default: all)")
    r.add_argument("--out", help="the challenger's run directory (default: beside the champion)")
    r.add_argument("--seed", type=int, help="seed of the challenger (default: the champion's recipe's) and of the "
                                            "bootstrap (default 0)")
    r.set_defaults(handler=_retrain)


def _retrain(args) -> int:
    import trainwright
    from trainwright.cli.common import RichReporter

    entry = trainwright.retrain(args.run, args.data, time_budget=args.time_budget, holdout=args.holdout,
                                window=args.window, out=args.out, seed=args.seed, reporter=RichReporter())
    say(f"Challenger: {entry['challenger']}")
    say(("Promoted: " if entry["promoted"] else "Not promoted: ") + entry["reason"])
    say(f"{entry['metric']}: champion {fmt(entry['champion_metric'])}, challenger {fmt(entry['challenger_metric'])}"
        f" on the {entry['holdout_rows']} held-out rows")
    say(f"Recorded in {Path(entry['champion']).parent / 'registry.json'}")
    return 0


def _drift(args) -> int:
    import json

    import trainwright
    from trainwright.data.sources import read_table
    from trainwright.deploy.drift import DRIFT_EXIT_CODE, check_drift
    from trainwright.errors import ConfigError, DataError

    if args.output == "-":
        raise ConfigError("-o -: the page is written to a file (e.g. -o drift.html); --json - prints the result",
                          path="-o")
    outputs = [Path(p) for p in (args.output, args.json_out) if p and p != "-"]
    for path in outputs:
        if (path.resolve().parent / "run.json").exists():
            raise ConfigError(f"{path} is inside a run directory ({path.parent}); write the drift page and JSON "
                              "elsewhere, a run's files are its own", path="-o")
    refuse_overwrite(outputs, args.force)
    run = trainwright.load(args.run)
    run.run.require_completed()
    frame = read_table(args.data, allow_empty=True)
    try:
        result = check_drift(run, frame, share=args.share)
    except DataError as exc:
        raise DataError(f"{args.data}: {exc}", column=exc.column, file=args.data) from None
    if args.json_out:
        from trainwright.runs import store

        text = json.dumps(result, indent=2, default=str)
        if args.json_out == "-":
            print(text)
        else:
            store.write_text(args.json_out, text)
    if args.output:
        from trainwright.report.drift import render_drift
        from trainwright.runs import store

        store.write_text(args.output, render_drift(result, run=str(args.run), data=args.data, task=run.task))
    if args.json_out != "-":
        _print_drift(result, args)
    return DRIFT_EXIT_CODE if result["drift"] else 0


def _print_drift(result, args) -> None:
    s = result["summary"]
    say(f"{'Drift' if result['drift'] else 'No drift'} in {args.data} ({result['rows']} rows): "
        f"{len(s['drifted'])} of {s['columns']} columns drifted"
        + (f" ({', '.join(s['drifted'][:8])})" if s["drifted"] else "")
        + f"; predictions {'drifted' if s['prediction_drift'] else 'steady'}")
    perf = result["performance"]
    if "estimated_accuracy" in perf:
        est, ref = perf["estimated_accuracy"], perf.get("reference") or {}
        say(f"Estimated accuracy without labels: {fmt(est['value'])} ({fmt(est['low'])}-{fmt(est['high'])}); on the "
            f"run's test rows {fmt((ref.get('estimated') or {}).get('value'))}, measured {fmt(ref.get('measured'))}")
    if perf.get("new_labels"):
        say(f"Labels the model never saw, in {perf['new_label_rows']} rows: {', '.join(perf['new_labels'])}")
    if "measured" in perf:
        say(f"Measured {perf['metric']} on {perf['labelled_rows']} labelled rows: {fmt(perf['measured'].get(perf['metric']))}"
            f" (test: {fmt(perf['test'])})" + (" — outside the test interval" if perf.get("outside_test_interval") else ""))
    for path in (args.output, args.json_out):
        if path and path != "-":
            say(f"Written: {path}")


def _export(args) -> int:
    import trainwright
    from trainwright.errors import ConfigError

    out = Path(args.output or ("model.pt" if args.format == "torchscript" else "model.onnx"))
    refuse_overwrite([out], args.force)
    if args.format == "torchscript":
        from trainwright.deploy.torchscript import export_torchscript

        done = export_torchscript(trainwright.load(args.run), out)
        say(f"{out} written ({done['bytes']:,} bytes): a TorchScript module on float32 rows of "
            f"{len(done['features'])} features (preprocessor.json and their names are inside it)")
        say(f"Parity: TorchScript and trainwright agree on the run's {done['rows']} test rows within "
            f"{done['max_difference']:.1e}")
        return 0
    try:
        from trainwright.deploy.export import export_onnx
    except ImportError as exc:
        raise ConfigError(f"`trainwright export` needs the export extra ({exc.name} is missing): "
                          "pip install 'trainwright[export]'") from None
    done = export_onnx(trainwright.load(args.run), out)
    say(f"{out} written ({done['bytes']:,} bytes): inputs {', '.join(f'{c} ({t})' for c, t in done['inputs'].items())}")
    say(f"Parity: onnxruntime and trainwright agree on the run's {done['rows']} test rows within "
        f"{done['max_difference']:.1e}")
    return 0


def _serve(args) -> int:
    from trainwright.errors import ConfigError

    try:
        import uvicorn

        from trainwright.deploy.server import _ENV, build_app
    except ImportError as exc:
        raise ConfigError(f"`trainwright serve` needs the serve extra ({exc.name} is missing): "
                          "pip install 'trainwright[serve]'") from None
    key = _api_key(args.api_key_env)
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give 1 or more processes", path="--workers")
    if not 0.001 <= args.max_body_mb < 1e6:  # nan and inf fail too
        raise ConfigError(f"--max-body-mb {args.max_body_mb}: give a size in MB between 0.001 and 1000000",
                          path="--max-body-mb")
    _check_port(args.host, args.port)
    max_body = int(args.max_body_mb * 2**20)
    app = build_app(args.run, api_key=key, max_body=max_body, name=args.name, onnx=args.onnx)  # checked first
    say(f"Serving {args.run} at http://{args.host}:{args.port} (API documentation: /docs; stop with Ctrl-C)")
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, access_log=False, timeout_graceful_shutdown=10)
        return 0
    del app  # each worker loads its own model; the parent only supervises them
    import gc

    gc.collect()
    os.environ.update({_ENV["run"]: str(args.run), _ENV["max_body"]: str(max_body)})
    if args.api_key_env:
        os.environ[_ENV["key_env"]] = args.api_key_env
    if args.name:
        os.environ[_ENV["name"]] = args.name
    if args.onnx:
        os.environ[_ENV["onnx"]] = str(Path(args.onnx).resolve())
    uvicorn.run("trainwright.deploy.server:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=False, timeout_graceful_shutdown=10)
    return 0


def _api_key(variable: str | None) -> str | None:
    from trainwright.errors import ConfigError

    if variable is None:
        return None
    key = os.environ.get(variable, "")
    if not key:
        raise ConfigError(f"--api-key-env {variable}: the environment variable {variable} is not set or empty; "
                          f"set it to the key first (export {variable}=...)", path="--api-key-env")
    return key


def _check_port(host: str, port: int) -> None:
    """Refuse, before loading anything, an address that cannot be listened on."""
    import socket

    from trainwright.errors import ConfigError

    if not 0 < port < 65536:
        raise ConfigError(f"--port {port}: give a port between 1 and 65535", path="--port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ConfigError(f"--host {host}: no such address on this machine; give an address such as 127.0.0.1 "
                          "or 0.0.0.0", path="--host") from None
    try:
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): another program may use the "
                          "port; choose another with --port, or another address with --host", path="--port") from None

"""``trainwright serve``: a run behind HTTP, as a FastAPI app under uvicorn.

Routes: ``POST /predict`` (one row), ``POST /predict/batch`` (a JSON array or a CSV body), ``GET /health``,
``GET /ready``, ``GET /metadata``, ``GET /metrics`` (Prometheus text) and the Open Inference Protocol v2 routes
(``/v2``, ``/v2/health/*``, ``/v2/models/{name}``, ``/v2/models/{name}/ready``, ``/v2/models/{name}/infer``).
The request body of ``/predict`` is a model built from the run's input columns (``extra="forbid"``), so the
OpenAPI document lists them and a wrong name or type is a 422 that names the field. With an API key every route
but the health and readiness probes needs the ``X-API-Key`` header. Bodies over the size bound are a 413.
"""

import hmac
import io
import os
import threading
import time
from typing import Any

from trainwright.deploy.service import ModelService, V2Error

# No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations (the row model is built at
# run time) as objects.

__all__ = ["build_app", "app_from_environment", "key_matches", "OPEN_PATHS"]

OPEN_PATHS = ("/health", "/ready", "/v2/health/live", "/v2/health/ready")  # probes never need the API key
_V2_TENSOR = {"type": "object", "required": ["name", "shape", "datatype", "data"],
              "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                             "shape": {"type": "array", "items": {"type": "integer"}}, "data": {"type": "array"}}}
_V2_INFER = {"type": "object", "required": ["inputs"],
             "properties": {"id": {"type": "string"}, "inputs": {"type": "array", "items": _V2_TENSOR}}}
_ENV = {"run": "TRAINWRIGHT_SERVE_RUN", "key_env": "TRAINWRIGHT_SERVE_API_KEY_ENV",
        "max_body": "TRAINWRIGHT_SERVE_MAX_BODY", "name": "TRAINWRIGHT_SERVE_NAME", "onnx": "TRAINWRIGHT_SERVE_ONNX"}


def app_from_environment():
    """The app for uvicorn's worker processes (``--workers N``): the run and settings come from the environment
    ``trainwright serve`` sets."""
    key_env = os.environ.get(_ENV["key_env"])
    return build_app(os.environ[_ENV["run"]], api_key=os.environ.get(key_env) if key_env else None,
                     max_body=int(os.environ.get(_ENV["max_body"], 10 * 2**20)), name=os.environ.get(_ENV["name"]),
                     onnx=os.environ.get(_ENV["onnx"]))


def build_app(run: str, *, api_key: str | None = None, max_body: int = 10 * 2**20, name: str | None = None,
              onnx: str | None = None):
    """The FastAPI app serving the run at ``run``; the model loads once, before the app is returned.

    Args:
        api_key: when set, the ``X-API-Key`` header every route but the probes must carry.
        max_body: the largest request body accepted, in bytes (a 413 above it).
        name: the model's name in the v2 routes (default: the run folder's name).
        onnx: a graph exported from the run: answered by onnxruntime instead of the Python predictor.
    """
    import trainwright

    from trainwright.errors import DataError

    service = ModelService(trainwright.load(run), name=name, onnx=onnx)
    try:
        service.predict_rows([{}])  # the first request should not pay for lazy imports and warm-up
    except DataError:  # a model that cannot answer an all-missing row is still served
        pass
    app = _app(service, api_key)
    app.add_middleware(_Bounded, limit=max_body, metrics=app.state.metrics)
    return app


def _app(service: ModelService, api_key: str | None):
    from fastapi import Depends, FastAPI, Security
    from fastapi.security import APIKeyHeader

    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the key given to the server")

    def check_key(given: str | None = Security(header)) -> None:
        if api_key is not None and not (given and key_matches(given, api_key)):
            from fastapi import HTTPException

            raise HTTPException(401, "missing or wrong X-API-Key header", headers={"WWW-Authenticate": "APIKey"})

    app = FastAPI(title=f"trainwright: {service.name}", version=_version(),
                  description=f"Predicts '{service.model.target}' ({service.model.task}) with the run "
                              f"{service.model.path.name}.")
    app.state.metrics = _Metrics()
    _validation_answers(app)
    keyed = [Depends(check_key)] if api_key else []
    lock = threading.Lock() if _needs_lock(service) else None
    _prediction_routes(app, service, lock, keyed)
    _info_routes(app, service, keyed)
    _v2_routes(app, service, lock, keyed)
    return app


def key_matches(given: str, key: str) -> bool:
    """Whether an ``X-API-Key`` header is the key, in constant time. The server decodes header bytes as latin-1:
    a client that sent the key's UTF-8 bytes (curl, most libraries) or its latin-1 bytes both match.

    Example:
        >>> key_matches("clÃ©", "clé"), key_matches("clé", "clé"), key_matches("cle", "clé")
        (True, True, False)
    """
    expected = key.encode()
    sent = [given.encode("utf-8")]
    try:
        sent.append(given.encode("latin-1"))  # the raw bytes on the wire
    except UnicodeEncodeError:
        pass
    return any([hmac.compare_digest(s, expected) for s in sent])


def _validation_answers(app) -> None:
    """422 answers that always encode: inputs echoed short (200 characters), non-finite numbers as text."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg"),
                   "input": _shown(e.get("input"))} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)


def _needs_lock(service: ModelService) -> bool:
    """torch modules are not re-entrant across threads for every op; the table learners are."""
    return any(hasattr(learner, "net_") for _, learner in service.predictor.members)


def _call(lock, fn, *args):
    if lock is None:
        return fn(*args)
    with lock:
        return fn(*args)


def _prediction_routes(app, service: ModelService, lock, keyed: list) -> None:
    from fastapi import HTTPException, Request
    from fastapi.concurrency import run_in_threadpool

    Row = _row_model(service)
    Answer = _answer_model(service)

    @app.post("/predict", dependencies=keyed, response_model=Answer, summary="Predict one row",
              responses={422: {"description": "a field that is not a column, or of the wrong type"}})
    async def predict(row: Row) -> dict:
        return (await run_in_threadpool(_guarded, lock, service.predict_rows, [_values(row)]))[0]

    @app.post("/predict/batch", dependencies=keyed, summary="Predict many rows: a JSON array of rows, or CSV with a header line",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{Row.__name__}"}}},
                  "text/csv": {"schema": {"type": "string"}}}}})
    async def predict_batch(request: Request) -> dict:
        body = await request.body()
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind not in ("application/json", "text/csv", "application/csv"):
            raise HTTPException(415, f"Content-Type {kind!r}: send application/json (an array of rows) or text/csv")
        if kind != "application/json":
            frame = _csv_frame(body, service)
            answers = await run_in_threadpool(_guarded, lock, lambda f: service.as_json(*service.predict_frame(f)), frame)
        else:
            rows = _json_rows(body, Row)
            answers = await run_in_threadpool(_guarded, lock, service.predict_rows, rows)
        return {"predictions": answers}


def _guarded(lock, fn, arg):
    """Run a prediction; a value the model cannot use is a 422 naming it (never a 500)."""
    from fastapi import HTTPException

    from trainwright.errors import DataError

    try:
        return _call(lock, fn, arg)
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None


def _info_routes(app, service: ModelService, keyed: list) -> None:
    from fastapi.responses import PlainTextResponse

    @app.get("/health", summary="The process answers (liveness)")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", summary="The model is loaded and answers (readiness)")
    def ready() -> dict:
        return {"status": "ready", "model": service.name}

    @app.get("/metadata", dependencies=keyed, summary="Task, classes, input schema and the run's lineage")
    def metadata() -> dict:
        return service.metadata()

    @app.get("/metrics", dependencies=keyed, response_class=PlainTextResponse, summary="Prometheus metrics of this process")
    def metrics() -> PlainTextResponse:
        body, content_type = app.state.metrics.exposition()
        return PlainTextResponse(body, media_type=content_type)


def _v2_routes(app, service: ModelService, lock, keyed: list) -> None:
    from typing import Annotated

    from fastapi import Path, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    # The one model's name, in the document (clients and fuzzers see it); another name still reaches model_or_404.
    Name = Annotated[str, Path(description="the model's name", json_schema_extra={"enum": [service.name]})]

    @app.exception_handler(V2Error)
    async def v2_error(request, exc: V2Error):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    def model_or_404(name: str) -> None:
        if name != service.name:
            raise V2Error(f"no model '{name}' here; this server serves '{service.name}'", status=404)

    @app.get("/v2", dependencies=keyed, summary="Open Inference Protocol: server metadata")
    def server() -> dict:
        return {"name": "trainwright", "version": _version(), "extensions": []}

    @app.get("/v2/health/live", summary="Open Inference Protocol: liveness")
    def live() -> dict:
        return {"live": True}

    @app.get("/v2/health/ready", summary="Open Inference Protocol: readiness")
    def v2_ready() -> dict:
        return {"ready": True}

    @app.get("/v2/models/{name}", dependencies=keyed, summary="Open Inference Protocol: model metadata")
    def model(name: Name) -> dict:
        model_or_404(name)
        return service.v2_model()

    @app.get("/v2/models/{name}/ready", dependencies=keyed, summary="Open Inference Protocol: model readiness")
    def model_ready(name: Name) -> dict:
        model_or_404(name)
        return {"name": name, "ready": True}

    @app.post("/v2/models/{name}/infer", dependencies=keyed, summary="Open Inference Protocol: inference, one tensor per column",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _V2_INFER}}}})
    async def infer(name: Name, request: Request):
        import json

        from trainwright.errors import DataError

        model_or_404(name)
        try:
            body = json.loads(await request.body())
        except ValueError as exc:  # not JSON, or not UTF-8
            return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
        try:
            return await run_in_threadpool(_call, lock, service.v2_infer, body)
        except DataError as exc:
            raise V2Error(str(exc)) from None


def _row_model(service: ModelService):
    """The pydantic model of one row: one optional field per input column (null or absent: missing)."""
    from pydantic import ConfigDict, Field, create_model

    types = {"number": float | None, "string": str | None, "any": str | float | bool | None}
    fields = {f"c{i}": (types[c.json], Field(None, alias=c.name, description=f"{c.kind} column"))
              for i, c in enumerate(service.columns)}
    return create_model("Row", __config__=ConfigDict(extra="forbid", allow_inf_nan=False), **fields)


def _answer_model(service: ModelService):
    from pydantic import create_model

    label = str | float | int | bool
    if service.classes is None:
        return create_model("Answer", prediction=(float, ...))
    return create_model("Answer", prediction=(label, ...), probabilities=(dict[str, float], ...))


def _values(row) -> dict[str, Any]:
    return row.model_dump(by_alias=True)


def _json_rows(body: bytes, Row) -> list[dict[str, Any]]:
    """Rows of a JSON array body, each checked like ``/predict``'s body (a 422 naming row and field)."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import TypeAdapter, ValidationError

    try:
        rows = TypeAdapter(list[Row]).validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None
    return [_values(row) for row in rows]


def _shown(value: Any) -> Any:
    """An invalid input as a 422 echoes it: text at most 200 characters, bytes decoded, numbers that JSON cannot
    write (inf, nan) and containers as short text."""
    import math

    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        value = repr(value)
    if isinstance(value, str):
        value = value.encode("utf-8", errors="replace").decode("utf-8")  # a lone surrogate cannot be written
        return value if len(value) <= 200 else value[:200] + "..."
    return value


def _csv_frame(body: bytes, service: ModelService):
    """The frame of a CSV body: its columns must be the model's (the target, if there, is ignored)."""
    import pandas as pd
    from fastapi import HTTPException

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # more fields than the header: refused
            frame = pd.read_csv(io.BytesIO(body), index_col=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise HTTPException(422, f"the body is not CSV with a header line and as many fields in every row: "
                                 f"{str(exc)[:200]}") from None
    unknown = [c for c in frame.columns if c not in service.by_name and c != service.model.target]
    if unknown:
        raise HTTPException(422, f"column(s) {', '.join(map(repr, unknown))} are not inputs of the model; its "
                                 f"inputs are: {', '.join(service.by_name)}")
    for col, rows in service.predictor.invalid_numbers(frame).items():
        raise HTTPException(422, f"column '{col}' is numeric but holds {frame.loc[rows[0], col]!r} in data row(s) "
                                 f"{', '.join(str(r + 1) for r in rows[:5])}: send numbers, or leave the cell empty "
                                 "for a missing value")
    for col in service.columns:
        if col.name not in frame.columns:
            frame[col.name] = None
    return frame


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trainwright")
    except PackageNotFoundError:
        return "unknown"


class _Metrics:
    """Request counts, latency histogram and errors of this process, as Prometheus text."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        from prometheus_client import disable_created_metrics

        disable_created_metrics()  # the *_created series only repeat the start time
        self.registry = CollectorRegistry()
        self.requests = Counter("trainwright_requests", "HTTP requests answered", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("trainwright_request_seconds", "time to answer a request", ["route"],
                                 buckets=(.0005, .001, .002, .003, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                 registry=self.registry)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Bounded:
    """ASGI middleware: refuses bodies over ``limit`` bytes (413) and records every request in the metrics."""

    def __init__(self, app, limit: int, metrics: _Metrics) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def recording(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            body = await self._body(receive)
            if body is None:
                await _answer(recording, 413, f"the request body is over the server's bound of {self.limit} bytes; "
                                              "send fewer rows per request (or a larger --max-body-mb)")
                return
            replay = [{"type": "http.request", "body": body, "more_body": False}]

            async def again():
                return replay.pop() if replay else await receive()

            await self.app(scope, again, recording)
        except Exception:
            status[0] = 500  # uvicorn answers it; the metrics count it
            raise
        finally:
            self.metrics.observe(getattr(scope.get("route"), "path", "other"), status[0], time.perf_counter() - started)

    async def _body(self, receive) -> bytes | None:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return None
            more = message.get("more_body", False)
        return b"".join(chunks)


async def _answer(send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

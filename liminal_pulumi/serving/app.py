"""The model server: a Flask WSGI app built from a python_server image's `endpoints`.

Each endpoint maps a path to `module.function` in the image's source folder. Compatible with
functions written for Apache Liminal: the function receives the raw request body (bytes) as its one
argument (functions that take no argument are called with none), for GET and POST.

What a function returns becomes the response:
- `dict`, `list`, a number or a numpy value -> JSON; `str` or `bytes` -> the text as is
  (labelled JSON when it is JSON);
- `(body, status)` or `(body, status, headers)` -> the same with that status code;
- raising `EndpointError(status, message)` -> `{"error": message, "status": status}` with that code.
Any other exception -> 500 `{"error": ..., "error_id": ...}`; the traceback goes to the log under
that id, never to the client.

Built in: `/healthcheck` (liveness; unless the image defines it), `/ready` (readiness: 503 until
every endpoint's module imported) and `/metrics` (Prometheus text). Every error is JSON: unknown
path 404, wrong method 405, body over the service's limit 413, invalid JSON under a JSON content
type 400, an endpoint whose module failed to import 503.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Endpoint
from liminal_pulumi.serving.metrics import UNMATCHED_ENDPOINT, ServerMetrics
from liminal_pulumi.serving.prediction_log import PredictionMonitor

log = logging.getLogger("liminal.server")

ALLOWED_METHODS = ("GET", "POST")
# Any other method a client makes up is counted as OTHER, so the label set stays bounded.
_COUNTED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_JSON_MIMETYPE = "application/json"
_TEXT_MIMETYPE = "text/plain"


class EndpointError(Exception):
    """Raise from an endpoint function to answer `{"error": message, "status": status}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LoadedEndpoint:
    path: str
    target: str  # module.function, for messages
    function: Callable[..., Any] | None
    takes_body: bool
    load_error: str | None  # why the function could not be loaded


def create_app(
    endpoints: Sequence[Endpoint],
    *,
    app_dir: Path,
    max_body_bytes: int = defaults.SERVICE_MAX_BODY_BYTES,
    metrics: ServerMetrics | None = None,
    monitor: Callable[[ServerMetrics], PredictionMonitor] | None = None,
) -> Flask:
    """The server's WSGI app; endpoint modules are imported from `app_dir` now, once.

    `monitor` (a monitored service) builds the prediction monitor on the app's metrics; it wraps
    the monitored endpoints' functions (prediction_log.py).
    """
    loaded = [_load_endpoint(e, app_dir) for e in endpoints]
    server_metrics = metrics if metrics is not None else ServerMetrics()
    if monitor is not None:
        prediction_monitor = monitor(server_metrics)
        loaded = [prediction_monitor.instrument(e) for e in loaded]
    app = Flask("liminal_server", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    user_paths: set[str] = set()
    for endpoint in loaded:
        if endpoint.path in user_paths:
            log.warning(
                "endpoint %s is declared twice; %s is not served", endpoint.path, endpoint.target
            )
            continue
        user_paths.add(endpoint.path)
        app.add_url_rule(
            endpoint.path,
            endpoint=f"user:{endpoint.path}",
            view_func=_endpoint_view(endpoint, max_body_bytes),
            methods=ALLOWED_METHODS,
        )
    load_errors = {e.path: e.load_error for e in loaded if e.load_error}

    def liveness() -> Response:
        return _json_response({"status": "ok"}, 200)

    def readiness() -> Response:
        if load_errors:
            return _json_response({"ready": False, "errors": load_errors}, 503)
        return _json_response({"ready": True}, 200)

    def metrics_view() -> Response:
        body, content_type = server_metrics.exposition()
        return Response(body, 200, content_type=content_type)

    for path, view in (
        (defaults.HEALTHCHECK_PATH, liveness),
        (defaults.READINESS_PATH, readiness),
        (defaults.METRICS_PATH, metrics_view),
    ):
        if path in user_paths:
            if path != defaults.HEALTHCHECK_PATH:
                log.warning("the image's endpoint %s replaces the built-in one", path)
            continue
        app.add_url_rule(path, endpoint=f"builtin:{path}", view_func=view, methods=("GET",))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        messages = {
            404: f"no endpoint at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"request body is larger than the limit of {max_body_bytes} bytes",
        }
        response = _error_response(status, messages.get(status, error.description or ""))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        return _internal_error(f"{request.method} {request.path}")

    app.wsgi_app = _Metered(  # type: ignore[method-assign]
        app.wsgi_app, server_metrics, frozenset(rule.rule for rule in app.url_map.iter_rules())
    )
    return app


class _Metered:
    """WSGI middleware that records each request's endpoint, method, status and latency.

    Outside Flask's request hooks, so that a request is counted however it ends (routing errors,
    413 before the view, unexpected failures) and at the cost of a dictionary look-up.
    """

    def __init__(self, wsgi_app: Any, metrics: ServerMetrics, paths: frozenset[str]) -> None:
        self._wsgi_app = wsgi_app
        self._metrics = metrics
        self._paths = paths

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        statuses: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self._wsgi_app(environ, recording_start_response)
        finally:
            path = environ.get("PATH_INFO", "")
            method = environ.get("REQUEST_METHOD", "")
            self._metrics.observe(
                path if path in self._paths else UNMATCHED_ENDPOINT,
                method if method in _COUNTED_METHODS else "OTHER",
                int(statuses[-1][:3]) if statuses else 500,
                time.perf_counter() - started,
            )


def _load_endpoint(endpoint: Endpoint, app_dir: Path) -> LoadedEndpoint:
    path = endpoint.endpoint if endpoint.endpoint.startswith("/") else f"/{endpoint.endpoint}"
    target = f"{endpoint.module}.{endpoint.function}"
    app_root = str(app_dir)
    if app_root not in sys.path:
        sys.path.insert(0, app_root)
    try:
        module = importlib.import_module(endpoint.module)
    except BaseException as error:  # a user module may even call sys.exit on import
        log.exception("endpoint %s: module %s failed to import", path, endpoint.module)
        return LoadedEndpoint(path, target, None, False, _describe_load_error(endpoint, error))
    function = getattr(module, endpoint.function, None)
    if not callable(function):
        message = f"module {endpoint.module} has no function {endpoint.function}"
        log.error("endpoint %s: %s", path, message)
        return LoadedEndpoint(path, target, None, False, message)
    takes_body = _takes_one_argument(function)
    if takes_body is None:
        message = f"{target} must take the request body as its one argument, or no argument"
        log.error("endpoint %s: %s", path, message)
        return LoadedEndpoint(path, target, None, False, message)
    return LoadedEndpoint(path, target, function, takes_body, None)


def _describe_load_error(endpoint: Endpoint, error: BaseException) -> str:
    return f"module {endpoint.module} failed to import: {type(error).__name__}: {error}"


def _takes_one_argument(function: Callable[..., Any]) -> bool | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: assume the original's call
        return True
    for args in ((b"",), ()):
        try:
            signature.bind(*args)
        except TypeError:
            continue
        return bool(args)
    return None


def _endpoint_view(endpoint: LoadedEndpoint, max_body_bytes: int) -> Callable[[], Response]:
    def view() -> Response:
        if endpoint.function is None:
            return _error_response(503, f"endpoint unavailable: {endpoint.load_error}")
        # The WSGI environ directly: this is the hot path, and each proxy access has a cost.
        environ = request.environ
        body = _read_body(environ, max_body_bytes)
        rejection = _json_rejection(environ, body)
        if rejection is not None:
            return rejection
        try:
            result = endpoint.function(body) if endpoint.takes_body else endpoint.function()
            return _to_response(result)
        except EndpointError as error:
            return _error_response(_error_status(error.status), error.message)
        except Exception:
            return _internal_error(endpoint.target)

    view.__name__ = f"endpoint_{endpoint.target}"
    return view


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The whole body, or 413 over the limit, with a Content-Length or chunked.

    Read here rather than by Werkzeug, which cuts a chunked body at the limit without a word.
    """
    stream = environ["wsgi.input"]
    length_header = environ.get("CONTENT_LENGTH")
    if length_header:
        try:
            length = int(length_header)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if length < 0:
            raise BadRequest("Content-Length is negative")
        if length > limit:
            raise RequestEntityTooLarge()
        return bytes(stream.read(length))
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that does not end the stream: no safe body
    body = bytes(stream.read(limit + 1))
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _json_rejection(environ: dict[str, Any], body: bytes) -> Response | None:
    """A body that says it is JSON must be JSON: answer 400 before the function sees it."""
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if mimetype != _JSON_MIMETYPE and not mimetype.endswith("+json"):
        return None
    if not body:
        if environ.get("REQUEST_METHOD") == "GET":
            return None
        return _error_response(400, "request body is empty; expected a JSON document")
    try:
        json.loads(body)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        return _error_response(400, f"request body is not valid JSON: {error}")
    return None


def _to_response(result: Any) -> Response:
    status = 200
    headers: Mapping[str, str] | None = None
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        if len(result) == 2:
            result, status = result
        elif len(result) == 3:
            result, status, headers = result
        else:
            raise TypeError(f"an endpoint returned a tuple of {len(result)} items")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise TypeError(f"an endpoint returned status {status!r}")
    if isinstance(result, (str, bytes)):
        response = Response(result, status, mimetype=_text_mimetype(result))
    elif isinstance(result, (dict, list, int, float)) or hasattr(result, "tolist"):
        # Numbers and numpy values too: `return model.predict_proba(x)[0][1]` is a natural try.
        response = _json_response(result, status)
    else:
        raise TypeError(
            f"an endpoint returned {type(result).__name__}; return a str, bytes, dict or list"
        )
    if headers:
        response.headers.update(headers)
    return response


def _text_mimetype(text: str | bytes) -> str:
    """Functions written for the original return `json.dumps(...)`: label that as JSON."""
    stripped = text.strip()
    opening = stripped[:1]
    if opening in ("{", "[", b"{", b"["):
        try:
            json.loads(stripped)
        except ValueError:
            return _TEXT_MIMETYPE
        return _JSON_MIMETYPE
    return _TEXT_MIMETYPE


def _error_status(status: int) -> int:
    return status if isinstance(status, int) and 400 <= status <= 599 else 500


def _json_response(document: Any, status: int) -> Response:
    # NaN and Infinity are not JSON: a client's parser would fail on a 200. Refusing them makes
    # the endpoint's result a logged 500 that names the problem instead.
    return Response(
        json.dumps(document, default=_plain, allow_nan=False), status, mimetype=_JSON_MIMETYPE
    )


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (anything with `tolist`) as JSON lists and numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _error_response(status: int, message: str) -> Response:
    return _json_response({"error": message, "status": status}, status)


def _internal_error(where: str) -> Response:
    error_id = uuid.uuid4().hex[:16]
    log.error("error_id=%s: %s raised", error_id, where, exc_info=sys.exc_info())
    return _json_response(
        {
            "error": "internal error in the endpoint; see the server log for this error_id",
            "error_id": error_id,
            "status": 500,
        },
        500,
    )

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
every endpoint's module imported, and while a `ready()` function of an endpoint module answers
false, see `READY_HOOK`) and `/metrics` (Prometheus text). Every error is JSON: unknown
path 404, wrong method 405, body over the service's limit 413, a body labelled JSON that is not
strict JSON (RFC 8259: no NaN or Infinity) 400, a body nested too deeply to parse 400 whatever its
type, a body cut short or not received in time 400/408, an endpoint whose module failed to import
503, an endpoint still running after the service's `timeout_seconds` 504.
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
from liminal_pulumi.serving.deadline import DeadlineExceeded, DeadlineRunner
from liminal_pulumi.serving.metrics import UNMATCHED_ENDPOINT, ServerMetrics
from liminal_pulumi.serving.prediction_log import PredictionMonitor

log = logging.getLogger("liminal.server")

ALLOWED_METHODS = ("GET", "POST")
# Any other method a client makes up is counted as OTHER, so the label set stays bounded.
_COUNTED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_JSON_MIMETYPE = "application/json"
_TEXT_MIMETYPE = "text/plain"
# Below this many brackets a body cannot nest deeply enough to exhaust Python's recursion limit
# (1000 frames): the depth check then costs two bytes.count() calls, not a parse.
_NESTING_CHECK_BRACKETS = 256

# An endpoint module may define `ready()`, taking no argument: `/ready` answers 503 while it
# returns a false value or `(False, "why")` (a model not loaded yet, say), or raises.
READY_HOOK = "ready"


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
    timeout_seconds: float = defaults.SERVICE_TIMEOUT_SECONDS,
    body_timeout_seconds: float = defaults.SERVICE_HEADER_TIMEOUT_SECONDS,
    on_abandoned: Callable[[], None] | None = None,
    concurrency: int = defaults.SERVICE_THREADS,
) -> Flask:
    """The server's WSGI app; endpoint modules are imported from `app_dir` now, once.

    `monitor` (a monitored service) builds the prediction monitor on the app's metrics; it wraps
    the monitored endpoints' functions (prediction_log.py).
    `timeout_seconds`: an endpoint call still running after it is answered 504 (the call goes on,
    abandoned, and `on_abandoned()` is called: the server restarts the worker process).
    `body_timeout_seconds`: longest wait for the next bytes of a request body the server has not
    already read (chunked uploads), else 408. `concurrency`: endpoint calls at once (the
    service's `threads`); the image's own /healthcheck and /ready are not counted, so they answer
    while the endpoints are busy (give the server one thread more for them).
    """
    loaded = [_load_endpoint(e, app_dir) for e in endpoints]
    runner = DeadlineRunner(timeout_seconds, on_abandoned, concurrency)
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
            view_func=_endpoint_view(endpoint, max_body_bytes, runner, body_timeout_seconds),
            methods=ALLOWED_METHODS,
        )
    load_errors = {e.path: e.load_error for e in loaded if e.load_error}
    ready_hooks = _ready_hooks(endpoints, loaded)

    def liveness() -> Response:
        return _json_response({"status": "ok"}, 200)

    def readiness() -> Response:
        errors = {**load_errors, **_not_ready(ready_hooks)}
        if errors:
            return _json_response({"ready": False, "errors": errors}, 503)
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


def _ready_hooks(
    endpoints: Sequence[Endpoint], loaded: Sequence[LoadedEndpoint]
) -> dict[str, Callable[[], Any]]:
    """The `ready()` functions of the modules whose endpoints loaded, by module name."""
    hooks = {}
    for endpoint, result in zip(endpoints, loaded, strict=True):
        module = sys.modules.get(endpoint.module) if result.load_error is None else None
        hook = getattr(module, READY_HOOK, None)
        if callable(hook):
            hooks[endpoint.module] = hook
    return hooks


def _not_ready(hooks: Mapping[str, Callable[[], Any]]) -> dict[str, str]:
    """Why each module that is not ready says so, by `module.ready`."""
    reasons = {}
    for module, hook in hooks.items():
        where = f"{module}.{READY_HOOK}"
        try:
            answer = hook()
        except Exception:
            error_id = uuid.uuid4().hex[:16]
            log.error("error_id=%s: %s raised", error_id, where, exc_info=sys.exc_info())
            reasons[where] = f"raised; see the server log for error_id {error_id}"
            continue
        ok, why = answer, ""
        if isinstance(answer, tuple):  # (ok, why)
            ok, why = (*answer, "", "")[:2]
        if not ok:
            reasons[where] = str(why or "not ready")
    return reasons


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


def _endpoint_view(
    endpoint: LoadedEndpoint, max_body_bytes: int, runner: DeadlineRunner, body_timeout: float
) -> Callable[[], Response]:
    function = endpoint.function
    exclusive = endpoint.path not in (defaults.HEALTHCHECK_PATH, defaults.READINESS_PATH)
    args_of: Callable[[bytes], tuple[Any, ...]] = (
        (lambda body: (body,)) if endpoint.takes_body else (lambda body: ())
    )

    def view() -> Response:
        if function is None:
            return _error_response(503, f"endpoint unavailable: {endpoint.load_error}")
        # The WSGI environ directly: this is the hot path, and each proxy access has a cost.
        environ = request.environ
        body = _read_body(environ, max_body_bytes, body_timeout)
        if isinstance(body, Response):
            return body
        rejection = _json_rejection(environ, body)
        if rejection is not None:
            return rejection
        try:
            result = runner.call(function, *args_of(body), exclusive=exclusive)
            return _to_response(result)
        except DeadlineExceeded:
            log.error(
                "%s did not return within %g s: answered 504", endpoint.target, runner.timeout
            )
            return _error_response(
                504, f"the endpoint did not answer within {runner.timeout:g} seconds"
            )
        except EndpointError as error:
            return _error_response(_error_status(error.status), error.message)
        except Exception:
            return _internal_error(endpoint.target)

    view.__name__ = f"endpoint_{endpoint.target}"
    return view


def _read_body(environ: dict[str, Any], limit: int, timeout: float) -> bytes | Response:
    """The whole body, with a Content-Length or chunked; else the error response to send.

    413 over the limit; 408 when the client stops sending for `timeout` seconds; 400 when the body
    ends early (the client went away: not a server error) or its chunked framing is broken. Read
    here rather than by Werkzeug, which cuts a chunked body at the limit without a word.
    """
    stream = environ["wsgi.input"]
    length_header = environ.get("CONTENT_LENGTH")
    length: int | None = None
    if length_header:
        try:
            length = int(length_header)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if length < 0:
            raise BadRequest("Content-Length is negative")
        if length > limit:
            raise RequestEntityTooLarge()
    elif not environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that does not end the stream: no safe body
    # gunicorn's socket: bytes still to come wait at most `timeout` (its worker has usually read
    # the whole body already, and then this costs nothing).
    connection = environ.get("gunicorn.socket")
    if connection is not None:
        connection.settimeout(timeout)
    try:
        body = bytes(stream.read(limit + 1 if length is None else length))
    except TimeoutError:
        return _error_response(408, f"request body not received within {timeout:g} seconds")
    except Exception as error:  # the server's framing errors (bad chunk sizes, early end)
        return _error_response(400, f"request body could not be read: {error or type(error)}")
    finally:
        if connection is not None:
            connection.settimeout(None)
    if length is not None and len(body) < length:
        return _error_response(400, f"request body ended after {len(body)} of {length} bytes")
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259)")


def _too_deep(body: bytes) -> bool:
    """Whether parsing `body` as JSON would exhaust the recursion limit."""
    if body.count(b"[") + body.count(b"{") < _NESTING_CHECK_BRACKETS:
        return False
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


def _json_rejection(environ: dict[str, Any], body: bytes) -> Response | None:
    """A body that says it is JSON must be JSON: answer 400 before the function sees it."""
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if mimetype != _JSON_MIMETYPE and not mimetype.endswith("+json"):
        # Functions parse bodies themselves (curl -d labels JSON as a form): one too deep for
        # any parser would make theirs fail with a RecursionError, a 500.
        if _too_deep(body):
            return _error_response(400, "request body is nested too deeply to parse")
        return None
    if not body:
        if environ.get("REQUEST_METHOD") == "GET":
            return None
        return _error_response(400, "request body is empty; expected a JSON document")
    try:
        json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        return _error_response(400, "request body is nested too deeply to parse")
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
            json.loads(stripped, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
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

"""The iris model server's endpoints (liminal.yml: /predict, /healthcheck, /version).

Each function receives the raw request body, as Apache Liminal's python_server passed it, and
returns a dict (sent as JSON), a string, or `(body, status)` for another status code.

The model comes from the model store the pipeline writes (`training.py validate`):
`$MOUNT_PATH/production/<version>/model.pkl` beside `metadata.json`. The newest version is served;
the store is looked at again at most once a second, so a newly validated model is picked up within
a second without a directory listing on every request. Only complete versions are read (see
model_store.py); a version that fails to load is skipped for the next older one. `ready()` tells
the server's `/ready` whether a model can be served. Only models from this trusted store are
unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import model_store

log = logging.getLogger("iris.serving")

_PETAL_WIDTH = "petal_width"
_STORE_CHECK_SECONDS = 1.0
# Predictions of one model are memoised per input value: the model is deterministic, and inputs
# repeat (petal widths are measured to a millimetre), so repeated inputs skip scikit-learn's
# per-call overhead (about 0.3 ms, most of a request's cost).
_MEMO_SIZE = 4096


class _Model:
    def __init__(self, version: str, estimator: Any, metadata: dict[str, Any]) -> None:
        self.version = version
        self.metadata = metadata
        self.probability = lru_cache(maxsize=_MEMO_SIZE)(
            lambda petal_width: float(estimator.predict_proba([[petal_width]])[0][1])
        )


class _ProductionStore:
    """The newest loadable production model, re-checked at most once per `_STORE_CHECK_SECONDS`.

    Only complete versions count (`model_store.versions`: a writer's hidden staging folder never
    does). A version that fails to load is skipped for the older ones, and tried again only once
    its model file changes, so one broken or half-copied version never leaves the server without
    a model.
    """

    def __init__(self) -> None:
        self._model: _Model | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        # version folder -> (mtime_ns, size) of the model file that failed to load
        self._failed: dict[Path, tuple[int, int]] = {}

    @property
    def folder(self) -> Path:
        return Path(os.environ.get("MOUNT_PATH", "/mnt/gettingstartedvol")) / "production"

    def current(self) -> _Model | None:
        # One thread looks at the store while the others go on with the model they have; with
        # no model yet they wait for that look rather than answer 503 while a model loads.
        if time.monotonic() >= self._next_check and self._lock.acquire(
            blocking=self._model is None
        ):
            try:
                self._refresh()
            finally:
                self._next_check = time.monotonic() + _STORE_CHECK_SECONDS
                self._lock.release()
        return self._model

    def _refresh(self) -> None:
        for candidate in model_store.versions(self.folder):
            if self._model is not None and self._model.version == candidate.name:
                return  # the newest loadable version is the one being served
            try:
                stat = (candidate / model_store.MODEL_FILE).stat()
            except OSError:  # removed since the listing
                continue
            signature = (stat.st_mtime_ns, stat.st_size)
            if self._failed.get(candidate) == signature:
                continue
            try:
                with (candidate / model_store.MODEL_FILE).open("rb") as stream:
                    estimator = pickle.load(stream)
                metadata_file = candidate / model_store.METADATA_FILE
                metadata = json.loads(metadata_file.read_text()) if metadata_file.exists() else {}
            except Exception:
                # A half-copied or broken model must not replace the one being served.
                log.exception("cannot load model %s; trying older versions", candidate)
                self._failed[candidate] = signature
                continue
            self._model = _Model(candidate.name, estimator, metadata)
            log.info("serving model version %s from %s", candidate.name, candidate)
            return


_STORE = _ProductionStore()
# Load now, as the server imports this module in each worker: the first request does not wait
# for scikit-learn to import and the model to unpickle.
_STORE.current()


def _no_model() -> tuple[dict[str, Any], int]:
    return {
        "error": f"no production model yet in {_STORE.folder}: run the pipeline "
        "(liminal run examples/iris) to train and validate one",
        "status": 503,
    }, 503


def predict(input_json: bytes | str) -> tuple[dict[str, Any], int] | dict[str, Any]:
    try:
        request = json.loads(input_json)
        petal_width = float(request[_PETAL_WIDTH])
    except (ValueError, TypeError, KeyError, IndexError):
        return {
            "error": 'expected a JSON object such as {"petal_width": "2.1"} '
            "with a number in petal_width",
            "status": 400,
        }, 400
    if not math.isfinite(petal_width):
        return {"error": "petal_width must be a finite number", "status": 400}, 400
    model = _STORE.current()
    if model is None:
        return _no_model()
    return {"result": str(model.probability(petal_width)), "version": model.version}


def healthcheck(_request: bytes | str = b"") -> str:
    return "Server is up!"


def ready() -> bool | tuple[bool, str]:
    """Readiness for the server's `/ready`: true once a production model can be served."""
    if _STORE.current() is None:
        return False, f"no loadable production model in {_STORE.folder}"
    return True


def version(_request: bytes | str = b"") -> tuple[dict[str, Any], int] | dict[str, Any]:
    model = _STORE.current()
    if model is None:
        return _no_model()
    return {"version": model.version, **{k: v for k, v in model.metadata.items() if k != "version"}}

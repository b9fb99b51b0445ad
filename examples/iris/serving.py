"""The iris model server's endpoints (liminal.yml: /predict, /healthcheck, /version).

Each function receives the raw request body, as Apache Liminal's python_server passed it, and
returns a dict (sent as JSON), a string, or `(body, status)` for another status code.

The model comes from the model store the pipeline writes (`training.py validate`):
`$MOUNT_PATH/production/<version>/model.pkl` beside `metadata.json`. The newest version is served;
the store is looked at again at most once a second, so a newly validated model is picked up within
a second without a directory listing on every request. Only models from this trusted store are
unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    """The newest production model, re-checked at most once per `_STORE_CHECK_SECONDS`."""

    def __init__(self) -> None:
        self._model: _Model | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._failed_versions: set[str] = set()

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
        newest = _newest_version(self.folder)
        if newest is None or newest.name in self._failed_versions:
            return
        if self._model is not None and self._model.version == newest.name:
            return
        try:
            with (newest / "model.pkl").open("rb") as stream:
                estimator = pickle.load(stream)
            metadata_file = newest / "metadata.json"
            metadata = json.loads(metadata_file.read_text()) if metadata_file.exists() else {}
        except Exception:
            # A half-copied or broken model must not replace the one being served.
            log.exception("cannot load model %s; still serving the previous one", newest)
            self._failed_versions.add(newest.name)
            return
        self._model = _Model(newest.name, estimator, metadata)
        log.info("serving model version %s from %s", newest.name, newest)


def _newest_version(production: Path) -> Path | None:
    try:
        versions = [d for d in production.iterdir() if (d / "model.pkl").is_file()]
    except OSError:  # no store yet
        return None
    return max(versions, key=lambda d: _natural_key(d.name), default=None)


def _natural_key(name: str) -> tuple[tuple[int, Any], ...]:
    """Version names sort as numbers where they are numbers: 10 after 9."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


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


def version(_request: bytes | str = b"") -> tuple[dict[str, Any], int] | dict[str, Any]:
    model = _STORE.current()
    if model is None:
        return _no_model()
    return {"version": model.version, **{k: v for k, v in model.metadata.items() if k != "version"}}

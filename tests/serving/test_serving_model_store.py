"""The iris model store under a real server: a writer killed mid-publish leaves nothing a reader
counts, a restart after it still serves the complete model, and `/ready` says whether a model can
be served."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

from serving_helpers import (
    IRIS,
    Launch,
    iris_endpoints,
    post_json,
    publish_model,
    request,
    train_model,
)

# A writer that publishes a version through the example's own model_store.publish, made slow
# inside the write (each fsync sleeps), so that the test can kill it before the rename.
_SLOW_WRITER = """
import os, pickle, sys, time
sys.path.insert(0, sys.argv[1])
import model_store
real_fsync = os.fsync
def slow_fsync(fd):
    real_fsync(fd)
    print("writing", flush=True)
    time.sleep(60)
os.fsync = slow_fsync
model_store.publish(
    __import__("pathlib").Path(sys.argv[2]),
    {"model.pkl": pickle.dumps(list(range(100000))), "metadata.json": b"{}"},
)
"""


def _kill_writer_mid_publish(version_folder: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(IRIS), str(version_folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)


def _predict_version(port: int) -> tuple[int, object]:
    reply = post_json(port, "/predict", {"petal_width": "2.1"})
    document = reply.json()
    assert isinstance(document, dict)
    return reply.status, document.get("version")


def test_a_writer_killed_mid_publish_never_hides_the_served_model(
    tmp_path: Path, launch: Launch
) -> None:
    store = tmp_path / "store"
    publish_model(store, "20250101T000000000000Z", train_model())
    production = store / "production"
    _kill_writer_mid_publish(production / "20990101T000000000000Z")
    # The killed writer's staging folder holds a model file and sorts after every version.
    (staging,) = [p for p in production.iterdir() if p.name.startswith(".")]
    assert (staging / "model.pkl").is_file()
    assert not (production / "20990101T000000000000Z").exists()

    # A server started after the crash serves the complete version and is ready.
    server = launch(IRIS, iris_endpoints(), env={"MOUNT_PATH": str(store)})
    assert _predict_version(server.port) == (200, "20250101T000000000000Z")
    ready = request(server.port, "GET", "/ready")
    assert (ready.status, ready.json()) == (200, {"ready": True})


def test_ready_is_503_until_a_loadable_model_exists(tmp_path: Path, launch: Launch) -> None:
    store = tmp_path / "store"
    production = store / "production"
    # Only a killed writer's leftovers and a version whose model file is not a pickle.
    _kill_writer_mid_publish(production / "20990101T000000000000Z")
    broken = production / "20980101T000000000000Z"
    broken.mkdir()
    (broken / "model.pkl").write_bytes(b"half a pick")
    server = launch(IRIS, iris_endpoints(), env={"MOUNT_PATH": str(store)})

    ready = request(server.port, "GET", "/ready")
    assert ready.status == 503
    document = ready.json()
    assert isinstance(document, dict) and document["ready"] is False
    assert "no loadable production model" in document["errors"]["serving.ready"]
    assert _predict_version(server.port)[0] == 503
    assert request(server.port, "GET", "/healthcheck").status == 200  # alive, only not ready

    # An older complete version than the broken one: served, and the server becomes ready.
    publish_model(store, "20250101T000000000000Z", train_model())
    deadline = time.monotonic() + 30
    while request(server.port, "GET", "/ready").status != 200:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    for _ in range(6):  # both workers
        assert _predict_version(server.port) == (200, "20250101T000000000000Z")

    # A broken version repaired in place (its model file changes) is tried again and wins.
    repaired = tmp_path / "repaired.pkl"
    repaired.write_bytes(pickle.dumps(train_model(positive_class=0)))
    os.replace(repaired, broken / "model.pkl")
    deadline = time.monotonic() + 30
    while _predict_version(server.port) != (200, "20980101T000000000000Z"):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)


def test_publish_never_overwrites_and_cleans_stale_staging(tmp_path: Path) -> None:
    sys.path.insert(0, str(IRIS))
    try:
        import model_store
    finally:
        sys.path.remove(str(IRIS))
    folder = tmp_path / "production" / "v1"
    model_store.publish(folder, {"model.pkl": b"one"})
    try:
        model_store.publish(folder, {"model.pkl": b"two"})
    except FileExistsError:
        pass
    else:
        raise AssertionError("a published version was rewritten")
    assert (folder / "model.pkl").read_bytes() == b"one"
    assert [p.name for p in folder.parent.iterdir()] == ["v1"]  # no staging left behind

    stale = folder.parent / ".v2.tmp-12345"
    stale.mkdir()
    (stale / "model.pkl").write_bytes(b"partial")
    old = time.time() - 2 * model_store.STALE_STAGING_SECONDS
    os.utime(stale, (old, old))
    fresh = folder.parent / ".v3.tmp-12346"  # a writer still at work: left alone
    fresh.mkdir()
    model_store.publish(folder.parent / "v4", {"model.pkl": b"four"})
    assert not stale.exists() and fresh.exists()
    assert [p.name for p in model_store.versions(folder.parent)] == ["v4", "v1"]

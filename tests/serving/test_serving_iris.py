"""examples/iris/serving.py under the real server: 503 before a model exists, the newest production
model's probability and version, reloading a newer version, and bad inputs answered 400."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from serving_helpers import (
    IRIS,
    Launch,
    Server,
    iris_endpoints,
    post_json,
    publish_model,
    request,
    train_model,
)

RELOAD_DEADLINE_SECONDS = 30


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model_store")


@pytest.fixture(scope="module")
def server(launch_module: Launch, store: Path) -> Server:
    return launch_module(IRIS, iris_endpoints(), env={"MOUNT_PATH": str(store)})


def wait_for_version(server: Server, version: str) -> dict[str, object]:
    """Poll /predict until every worker serves `version` (the store is looked at once a second)."""
    deadline = time.monotonic() + RELOAD_DEADLINE_SECONDS
    seen: dict[str, object] = {}
    while time.monotonic() < deadline:
        # Several answers in a row, so that both workers have been asked.
        answers = [post_json(server.port, "/predict", {"petal_width": "2.1"}) for _ in range(8)]
        documents = [a.json() for a in answers if a.status == 200]
        if len(documents) == len(answers) and all(d["version"] == version for d in documents):  # type: ignore[index]
            return documents[0]  # type: ignore[return-value]
        seen = {"statuses": [a.status for a in answers], "last": answers[-1].body}
        time.sleep(0.2)  # the server re-reads the store once a second
    raise AssertionError(f"version {version} not served in time: {seen}\n{server.log()}")


def test_the_server_walks_through_the_model_lifecycle(server: Server, store: Path) -> None:
    # Before any model: a clear 503, not a 200.
    reply = post_json(server.port, "/predict", {"petal_width": "2.1"})
    assert reply.status == 503
    document = reply.json()
    assert isinstance(document, dict)
    assert "no production model yet" in document["error"] and "liminal run" in document["error"]
    assert request(server.port, "GET", "/version").status == 503
    assert request(server.port, "GET", "/healthcheck").body == b"Server is up!"

    first = train_model(positive_class=2)
    publish_model(store, "20250101T000000000000Z", first)
    answer = wait_for_version(server, "20250101T000000000000Z")
    expected = first.predict_proba([[2.1]])[0][1]  # type: ignore[attr-defined]
    assert float(answer["result"]) == pytest.approx(expected)  # type: ignore[arg-type]
    assert isinstance(answer["result"], str)

    version = request(server.port, "GET", "/version").json()
    assert version == {
        "version": "20250101T000000000000Z",
        "accuracy": 0.95,
        "created_at": "2025-01-01T00:00:00Z",
    }

    # A newer version is picked up without a restart; its answers differ from the first model's.
    second = train_model(positive_class=0)
    publish_model(store, "20250102T000000000000Z", second)
    answer = wait_for_version(server, "20250102T000000000000Z")
    expected = second.predict_proba([[2.1]])[0][1]  # type: ignore[attr-defined]
    assert float(answer["result"]) == pytest.approx(expected)  # type: ignore[arg-type]

    # A broken newer version never replaces the model being served.
    broken = store / "production" / "20250103T000000000000Z"
    broken.mkdir()
    (broken / "model.pkl").write_bytes(b"not a pickle")
    deadline = time.monotonic() + 2.5  # longer than the store's re-check interval
    while time.monotonic() < deadline:
        reply = post_json(server.port, "/predict", {"petal_width": "2.1"})
        assert reply.status == 200
        assert reply.json()["version"] == "20250102T000000000000Z"  # type: ignore[index]
        time.sleep(0.1)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b'{"petal_width": ', "application/json"),
        (b'{"sepal": 1}', "application/json"),
        (b'{"petal_width": "abc"}', "application/json"),
        (b'{"petal_width": "NaN"}', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/x-www-form-urlencoded"),
        (b"petal_width=2.1", "application/x-www-form-urlencoded"),
        (b"\x00\xff", "application/octet-stream"),
    ],
)
def test_bad_predict_input_is_a_400_that_says_what_is_expected(
    server: Server, body: bytes, content_type: str
) -> None:
    reply = request(server.port, "POST", "/predict", body, {"Content-Type": content_type})
    assert reply.status == 400, reply.body
    document = reply.json()
    assert isinstance(document, dict) and document["status"] == 400
    assert "petal_width" in document["error"] or "JSON" in document["error"]

"""The model server under faults (issue 11), on 127.0.0.1; every load is bounded in count and time.

Usage: python benchmarks/serve_faults.py APP_DIR ENDPOINTS_FILE [--timeout S]
Runs `python -m liminal_pulumi.serving` (the service's 2 workers, 1 thread each) with APP_DIR's
endpoints, which must include `/predict` (a real model) and `/hang` (never returns), and prints:

1. /healthcheck latency (20 requests, each on a new connection, 10 s client timeout) with nothing
   attached, then with 50 idle connections and 10 that sent half a request line attached;
2. requests lost across a SIGTERM under load: 16 clients on kept-alive connections post to
   /predict; after 2 s new connections go to a second server (the Service's endpoints changing)
   and the first gets SIGTERM; lost = socket errors + non-2xx answers, over every request sent;
3. a hung endpoint's effect: how long GET /hang takes to answer and with what, and /healthcheck
   and /predict latency meanwhile and after.

SERVER_PYTHONPATH=/other/checkout runs that checkout's server instead (same options), to compare.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CLIENT_TIMEOUT = 10.0
BODY = b'{"petal_width": 1.3}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    app_dir: Path, endpoints: Path, timeout: int, log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ)
    if os.environ.get("SERVER_PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["SERVER_PYTHONPATH"]
    argv = [
        sys.executable,
        "-m",
        "liminal_pulumi.serving",
        "--endpoints-file",
        str(endpoints),
        "--app-dir",
        str(app_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--threads",
        "1",
        "--timeout",
        str(timeout),
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=app_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(port, "/healthcheck")
            return process, port
        except OSError:
            if process.poll() is not None:
                sys.exit(f"server exited:\n{log.read_text()}")
            time.sleep(0.1)
    sys.exit(f"server did not come up:\n{log.read_text()}")


def get(
    port: int,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def latencies(
    port: int, path: str, count: int, method: str = "GET", body: bytes | None = None
) -> tuple[list[float], int]:
    """Seconds per request (a failed one counts its time until failing) and how many failed."""
    times, failures = [], 0
    for _ in range(count):
        started = time.monotonic()
        try:
            if get(port, path, method, body) != 200:
                failures += 1
        except OSError:
            failures += 1
        times.append(time.monotonic() - started)
    return times, failures


def summary(times: list[float], failures: int) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  "
        f"max {ordered[-1] * 1000:8.1f} ms  failed {failures}/{len(times)}"
    )


def healthcheck_under_slow_clients(port: int) -> None:
    print("1. /healthcheck latency, 20 requests (client timeout 10 s)")
    print(f"   nothing attached:            {summary(*latencies(port, '/healthcheck', 20))}")
    attached = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    for _ in range(10):
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /heal")
        attached.append(slow)
    time.sleep(0.5)
    try:
        print(f"   50 idle + 10 slow attached:  {summary(*latencies(port, '/healthcheck', 20))}")
    finally:
        for client in attached:
            client.close()


class Client(threading.Thread):
    """Posts to /predict on one kept-alive connection; reconnects to `target[0]` when closed."""

    def __init__(self, target: list[int], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.target, self.stop = target, stop
        self.sent = self.ok = self.non_2xx = self.errors = 0

    def run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", self.target[0], timeout=CLIENT_TIMEOUT
                )
            try:
                self.sent += 1
                connection.request(
                    "POST", "/predict", body=BODY, headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    self.ok += 1
                else:
                    self.non_2xx += 1
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                connection = None
        if connection is not None:
            connection.close()


def requests_lost_across_sigterm(app_dir: Path, endpoints: Path, timeout: int, log: Path) -> None:
    old, old_port = start_server(app_dir, endpoints, timeout, log)
    new, new_port = start_server(app_dir, endpoints, timeout, log)
    target, stop = [old_port], threading.Event()
    clients = [Client(target, stop) for _ in range(16)]
    for client in clients:
        client.start()
    time.sleep(2)
    target[0] = new_port  # the pod leaves the Service: new connections go to the other one
    stopped = time.monotonic()
    old.send_signal(signal.SIGTERM)
    old.wait(timeout=60)
    exit_seconds = time.monotonic() - stopped
    time.sleep(1)
    stop.set()
    for client in clients:
        client.join(timeout=30)
    new.send_signal(signal.SIGTERM)
    new.wait(timeout=60)
    sent = sum(c.sent for c in clients)
    non_2xx = sum(c.non_2xx for c in clients)
    errors = sum(c.errors for c in clients)
    print(
        "2. SIGTERM under load (16 kept-alive clients posting /predict; new connections to a "
        "second server first)"
    )
    print(
        f"   requests sent {sent}, 2xx {sum(c.ok for c in clients)}, non-2xx {non_2xx}, "
        f"socket errors {errors}: lost {non_2xx + errors}; old server exited "
        f"{exit_seconds:.1f} s after SIGTERM with status {old.returncode}"
    )


def hung_endpoint(port: int, timeout: int) -> None:
    result: dict[str, object] = {}

    def call() -> None:
        started = time.monotonic()
        try:
            result["status"] = get(port, "/hang", timeout=timeout + 30.0)
        except OSError as error:
            result["status"] = f"no answer ({type(error).__name__})"
        result["seconds"] = time.monotonic() - started

    hang = threading.Thread(target=call)
    hang.start()
    time.sleep(0.2)
    during_health, during_predict = [], []
    health_failed = predict_failed = 0
    while hang.is_alive():
        times, failed = latencies(port, "/healthcheck", 1)
        during_health += times
        health_failed += failed
        times, failed = latencies(port, "/predict", 1, "POST", BODY)
        during_predict += times
        predict_failed += failed
    hang.join()
    print(f"3. a hung endpoint (GET /hang, service timeout {timeout} s)")
    print(f"   answered {result.get('status')} after {float(result.get('seconds', 0)):.1f} s")
    if during_health:
        print(f"   meanwhile /healthcheck: {summary(during_health, health_failed)}")
        print(f"   meanwhile /predict:     {summary(during_predict, predict_failed)}")
    print(f"   after, /predict x50:    {summary(*latencies(port, '/predict', 50, 'POST', BODY))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app_dir", type=Path)
    parser.add_argument("endpoints_file", type=Path)
    parser.add_argument("--timeout", type=int, default=5, help="the service's timeout_seconds")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="serve-faults-")) / "server.log"
    server, port = start_server(args.app_dir, args.endpoints_file, args.timeout, log)
    try:
        healthcheck_under_slow_clients(port)
        hung_endpoint(port, args.timeout)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    requests_lost_across_sigterm(args.app_dir, args.endpoints_file, args.timeout, log)
    print(f"(server log: {log})")


if __name__ == "__main__":
    main()

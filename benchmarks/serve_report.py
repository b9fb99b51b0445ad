"""Summarise wrk runs of the model server (and of Liminal 0.0.5's server) as one table.

Usage: python benchmarks/serve_report.py NAME=WRK_OUTPUT_FILE ... [--baseline NAME]
Prints requests/s, p50, p99 and non-2xx responses per run; with --baseline, each run's
requests/s ratio and p99 against that run, and whether the issue's target (>= 2x requests/s at a
p99 no worse, zero non-2xx) is met.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


def parse_wrk(text: str) -> WrkRun:
    def latency(percentile: str) -> float:
        match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        if match is None:
            raise ValueError(f"no {percentile}% latency in wrk output (run wrk with --latency)")
        return float(match.group(1)) * _UNITS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    if rate is None:
        raise ValueError("no Requests/sec in wrk output")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:\s+(.*)", text)
    return WrkRun(
        requests_per_second=float(rate.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "none",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=FILE")
    parser.add_argument("--baseline", help="the NAME of the run to compare the others with")
    args = parser.parse_args()
    runs = {}
    for item in args.runs:
        name, _, file = item.partition("=")
        runs[name] = parse_wrk(Path(file).read_text())
    width = max(len(name) for name in runs)
    print(
        f"{'run':<{width}}  {'req/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'non-2xx':>7}"
        "  socket errors"
    )
    for name, run in runs.items():
        print(
            f"{name:<{width}}  {run.requests_per_second:>9.0f}  {run.p50_ms:>7.2f}  "
            f"{run.p99_ms:>7.2f}  {run.non_2xx:>7}  {run.socket_errors}"
        )
    if args.baseline is None:
        return
    base = runs[args.baseline]
    for name, run in runs.items():
        if name == args.baseline:
            continue
        ratio = run.requests_per_second / base.requests_per_second
        met = ratio >= 2 and run.p99_ms <= base.p99_ms and run.non_2xx == 0
        print(
            f"{name} vs {args.baseline}: {ratio:.2f}x requests/s, p99 {run.p99_ms:.2f} ms vs "
            f"{base.p99_ms:.2f} ms, non-2xx {run.non_2xx}: target "
            f"{'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

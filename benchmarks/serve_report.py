"""Summarise wrk runs of the model server (and of Liminal 0.0.5's server) as one table.

Usage: python benchmarks/serve_report.py NAME=WRK_OUTPUT_FILE ... [--baseline NAME]
A NAME given several times (rounds of the same run) is summarised by its medians. Prints
requests/s, p50, p99 and non-2xx responses (summed) per run; with --baseline, each run's
requests/s ratio and p99 against that run, and whether the issue's target (>= 2x requests/s at a
p99 no worse, zero non-2xx) is met.
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections import defaultdict
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


def median_run(runs: list[WrkRun]) -> WrkRun:
    """Medians of rate and latencies over rounds; non-2xx summed, socket errors of every round."""
    errors = sorted({run.socket_errors for run in runs} - {"none"})
    return WrkRun(
        requests_per_second=statistics.median(run.requests_per_second for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        non_2xx=sum(run.non_2xx for run in runs),
        socket_errors="; ".join(errors) or "none",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=FILE")
    parser.add_argument("--baseline", help="the NAME of the run to compare the others with")
    args = parser.parse_args()
    rounds: dict[str, list[WrkRun]] = defaultdict(list)
    for item in args.runs:
        name, _, file = item.partition("=")
        rounds[name].append(parse_wrk(Path(file).read_text()))
    runs = {name: median_run(each) for name, each in rounds.items()}
    width = max(len(name) for name in runs)
    print(
        f"{'run':<{width}}  {'rounds':>6}  {'req/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'non-2xx':>7}  socket errors"
    )
    for name, run in runs.items():
        print(
            f"{name:<{width}}  {len(rounds[name]):>6}  {run.requests_per_second:>9.0f}  "
            f"{run.p50_ms:>7.2f}  {run.p99_ms:>7.2f}  {run.non_2xx:>7}  {run.socket_errors}"
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

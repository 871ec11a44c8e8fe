"""Load on loopback with wrk (Debian's ``wrk``): fixed short runs, results as numbers.

Every route is driven by bench/load.lua: GET routes with fixed headers; POST routes that
take a single-use value (an authorization code, a refresh token, a token to revoke) read
pre-issued values from a file, each sent exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("load.lua")
THREADS = 2
CONNECTIONS = 16
SOCKET_TIMEOUT = "5s"


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass
class Target:
    """What to send: a route, its headers, and a fixed body or a file of single-use ones."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None
    bodies: Path | None = None
    expect: int = 200


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connection errors, timeouts and answers other than the expected status
    exhausted: bool  # a thread ran out of single-use values before the end
    sample: str | None  # the first unexpected answer, for the report
    quantiles: list[tuple[float, float]] = field(default_factory=list)  # (percent, ms)
    worker_cpu_s: float = 0.0  # CPU seconds the server's workers spent during the run

    @property
    def cpu_ms(self) -> float:
        """Worker CPU per request, in milliseconds."""
        return self.worker_cpu_s * 1000 / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "errors": self.errors,
            "worker_cpu_ms_per_request": round(self.cpu_ms, 3),
            "exhausted": self.exhausted,
            "sample": self.sample,
        }


def run(base_url: str, target: Target, seconds: int) -> Result:
    """One wrk run of ``seconds`` against ``base_url + target.path``."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench does it)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        out = Path(folder) / "result.json"
        env = {
            **os.environ,
            "BENCH_METHOD": target.method,
            "BENCH_PATH": target.path,
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.headers.items()),
            "BENCH_BODY": target.body or "",
            "BENCH_BODIES": str(target.bodies) if target.bodies else "",
            "BENCH_THREADS": str(THREADS),
            "BENCH_EXPECT": str(target.expect),
            "BENCH_OUT": str(out),
        }
        if target.body is None:
            env.pop("BENCH_BODY")
        done = subprocess.run(
            [
                wrk,
                f"-t{THREADS}",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                f"--timeout={SOCKET_TIMEOUT}",
                "-s",
                str(SCRIPT),
                base_url + target.path,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
        data = json.loads(out.read_text())
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"] + data["unexpected"]
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        errors=errors,
        exhausted=data["exhausted"] > 0,
        sample=data["sample"],
        quantiles=[(p, us / 1000) for p, us in data["quantiles"]],
    )


def median_run(runs: list[Result]) -> tuple[float, float]:
    """p50 and p99 of the median run, as a route's ratio is the median run's: a stall of
    the machine in one run (seen on the floor too) does not decide, a tail in most runs
    does. ``combine(runs).p99_ms``, over all the runs' requests together, is
    reported beside it."""
    return (
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
    )


def combine(results: list[Result]) -> Result:
    """Several runs of one target as one: counts added, latency distributions merged.

    Each run's latency at every percent stands for that percent of its requests, so the
    merged percentiles weigh each run by its number of requests.
    """
    points: list[tuple[float, float]] = []  # (latency ms, requests it stands for)
    for result in results:
        previous = 0.0
        for percent, ms in result.quantiles:
            points.append((ms, result.requests * (percent - previous) / 100))
            previous = percent
    points.sort()
    total = sum(mass for _, mass in points)

    def percentile(q: float) -> float:
        running = 0.0
        for ms, mass in points:
            running += mass
            if running >= total * q / 100:
                return ms
        return points[-1][0] if points else 0.0

    samples = [r.sample for r in results if r.sample]
    return Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        p50_ms=percentile(50),
        p90_ms=percentile(90),
        p99_ms=percentile(99),
        max_ms=max(r.max_ms for r in results),
        errors=sum(r.errors for r in results),
        exhausted=any(r.exhausted for r in results),
        sample=samples[0] if samples else None,
        quantiles=[],
        worker_cpu_s=sum(r.worker_cpu_s for r in results),
    )

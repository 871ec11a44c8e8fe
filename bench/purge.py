"""``oauth-server purge`` of 1,000,000 revoked partner tokens on PostgreSQL, while the API
is under load: the purge's duration, and the API's p50 and p99 before and during it.

1. a PostgreSQL database of its own (``--postgres-url``, the role needs CREATEDB), migrated
   and seeded through ``oauth-server`` (a company, its admin, a partner app) and the app's
   services (a live partner grant and its token pair, as a code exchange stores them);
2. ``--tokens`` revoked token pairs (1,000,000) in ``--grants`` revoked grants (10,000),
   all revoked 100 days ago, bulk-loaded with COPY, then VACUUM ANALYZE;
3. the server under gunicorn (2 workers, bench/harness.py), and ``GET /api/v1/me`` with
   the live partner token driven by wrk (2 threads, 16 connections) in runs of
   ``--run-seconds``: ``--before`` seconds of them first, then runs one after another
   for as long as ``oauth-server purge`` (a process of its own, default retention 90
   days) runs;
4. prints the purge's output and duration, the API's requests per second, p50 and p99
   before and during the purge, and p99/p50 during it against the target (at most 3).

    .venv/bin/python bench/purge.py [--tokens 1000000] [--postgres-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness  # noqa: E402
from bench import loadgen  # noqa: E402
from bench import seeding  # noqa: E402
from bench.loadgen import Result  # noqa: E402
from bench.loadgen import Target  # noqa: E402

ADMIN = "admin@purge.bench"
PASSWORD = "bench-password-42"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
CHUNK = 50_000
TARGET_RATIO = 3.0


def log(message: str) -> None:
    print(f"[purge bench] {message}", file=sys.stderr, flush=True)


def seed(server: harness.Server, tokens: int, grants: int) -> str:
    """The company, app and a live partner pair; ``tokens`` revoked pairs in ``grants``
    revoked grants. Returns the live access token."""
    cli = server.cli
    cli("db", "upgrade")
    cli("companies", "create", "Purge Co", "--plan", "scale")
    cli("users", "create", "--company", "Purge Co", "--email", ADMIN, "--password", PASSWORD,
        "--admin")  # fmt: skip
    app = json.loads(cli("clients", "create", "--name", "Purge Partner", "--redirect-uri",
                         REDIRECT_URI))  # fmt: skip
    with seeding.app_context(server.settings):
        access = _live_pair(app["client_id"])
        _revoked_pairs(app["client_id"], tokens, grants)
    return access


def _live_pair(client_id: str) -> str:
    """A grant of the admin and its first pair, stored as the code exchange stores them."""
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
    from sqlalchemy import select

    from oauth_server import tokens
    from oauth_server.extensions import db
    from oauth_server.models import OAuthClient
    from oauth_server.services import consent
    from oauth_server.services import oauth_tokens

    client = db.session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
    code = tokens.generate(tokens.Kind.CODE)
    consent.store_code(
        code,
        client=client,
        teammate=seeding.teammate(ADMIN),
        redirect_uri=REDIRECT_URI,
        scope="shared",
        code_challenge=create_s256_code_challenge(secrets.token_urlsafe(48)),
        code_challenge_method="S256",
    )
    claimed = oauth_tokens.claim_code(code, client)
    issued = oauth_tokens.generate_bearer("authorization_code", client, scope=claimed.scope)
    oauth_tokens.store_claimed(issued, client_pk=client.id, claimed=claimed)
    db.session.commit()
    return str(issued["access_token"])


def _revoked_pairs(client_id: str, count: int, grants: int) -> None:
    """``grants`` revoked grants of the admin, then ``count`` revoked pairs spread over
    them, with COPY (foreign-key triggers off for the load when the role may)."""
    from sqlalchemy import select

    from oauth_server.extensions import db
    from oauth_server.models import OAuthClient
    from oauth_server.models.base import utcnow

    started = time.perf_counter()
    admin = seeding.teammate(ADMIN)
    company_id, teammate_id = admin.company_id, admin.id
    client_pk = db.session.scalars(
        select(OAuthClient.id).where(OAuthClient.client_id == client_id)
    ).one()
    db.session.rollback()
    revoked = (utcnow() - timedelta(days=100)).isoformat()
    issued = (utcnow() - timedelta(days=101)).isoformat()
    salt = os.urandom(8).hex()
    with seeding.copying(db.engine, "oauth_grants", "oauth_tokens") as cursor:
        copy_sql = (
            "COPY oauth_grants (company_id, client_pk, teammate_id, scope, created_at,"
            " revoked_at, revoked_via) FROM STDIN"
        )
        with cursor.copy(copy_sql) as copy:
            line = f"{company_id}\t{client_pk}\t{teammate_id}\tshared\t{issued}\t{revoked}\tbench\n"
            copy.write(line * grants)
        cursor.execute("SELECT id FROM oauth_grants WHERE revoked_via = 'bench' ORDER BY id")
        grant_ids = [row[0] for row in cursor.fetchall()]
        copy_sql = (
            "COPY oauth_tokens (grant_id, client_pk, company_id, scope, access_hash,"
            " refresh_hash, issued_at, access_expires_at, refresh_expires_at, revoked_at)"
            " FROM STDIN"
        )
        per_grant = max(1, count // len(grant_ids))
        with cursor.copy(copy_sql) as copy:
            for start in range(0, count, CHUNK):
                rows = []
                for i in range(start, min(start + CHUNK, count)):
                    grant_id = grant_ids[min(i // per_grant, len(grant_ids) - 1)]
                    access = hashlib.sha256(f"{salt}:a:{i}".encode()).hexdigest()
                    refresh = hashlib.sha256(f"{salt}:r:{i}".encode()).hexdigest()
                    rows.append(
                        f"{grant_id}\t{client_pk}\t{company_id}\tshared\t{access}\t{refresh}"
                        f"\t{issued}\t{issued}\t{issued}\t{revoked}\n"
                    )
                copy.write("".join(rows))
    took = time.perf_counter() - started
    log(f"seeded {count:,} revoked pairs in {grants:,} grants: {took:.0f} s")


def _figures(runs: list[Result]) -> dict[str, Any]:
    """The runs' figures. p50 and p99 are the median run's, as in bench/run.py (a stall of
    the shared machine in one run does not decide, a tail in most runs does); the p99 of
    all their requests pooled is given beside it."""
    pooled = loadgen.combine(runs)
    p50, p99 = loadgen.median_run(runs)
    return {
        "runs": len(runs),
        "requests": pooled.requests,
        "rps": round(pooled.rps, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "p99_over_p50": round(p99 / p50, 2) if p50 else None,
        "pooled_p50_ms": round(pooled.p50_ms, 2),
        "pooled_p99_ms": round(pooled.p99_ms, 2),
        "errors": pooled.errors,
    }


def measure(args: argparse.Namespace, folder: Path, database_url: str) -> dict[str, Any]:
    server = harness.Server(database_url, folder)
    access = seed(server, args.tokens, args.grants)
    server.start()
    try:
        target = Target("GET", "/api/v1/me", {"Authorization": f"Bearer {access}"})
        loadgen.run(server.url, target, 1)  # warm-up
        before = [loadgen.run(server.url, target, args.run_seconds)
                  for _ in range(max(1, args.before // args.run_seconds))]  # fmt: skip
        done: dict[str, Any] = {}

        def purge() -> None:
            started = time.perf_counter()
            finished = subprocess.run(
                [str(harness.BIN / "oauth-server"), "purge", *args.purge_args],
                env=server.env,
                capture_output=True,
                text=True,
                check=False,
            )
            done["seconds"] = time.perf_counter() - started
            done["returncode"] = finished.returncode
            done["stdout"] = finished.stdout.strip()
            done["stderr"] = finished.stderr.strip()[-2000:]

        worker = threading.Thread(target=purge)
        worker.start()
        during = []
        while worker.is_alive():
            during.append(loadgen.run(server.url, target, args.run_seconds))
        worker.join()
    finally:
        server.stop()
    if done["returncode"] != 0:
        raise RuntimeError(f"oauth-server purge failed: {done['stderr']}")
    under_load = _figures(during)
    return {
        "tokens": args.tokens,
        "grants": args.grants,
        "purge_args": args.purge_args,
        "purge": json.loads(done["stdout"]),
        "purge_seconds": round(done["seconds"], 1),
        "before": _figures(before),
        "during": under_load,
        "during_runs": [r.as_dict() for r in during],
        "target_p99_over_p50": TARGET_RATIO,
        "pass": under_load["errors"] == 0
        and under_load["p99_ms"] <= TARGET_RATIO * under_load["p50_ms"],
    }


def report(data: dict[str, Any]) -> str:
    before, during = data["before"], data["during"]
    lines = [
        f"purge of {data['tokens']:,} revoked tokens in {data['grants']:,} grants (PostgreSQL)",
        f"  oauth-server purge {' '.join(data['purge_args'])}".rstrip(),
        f"  deleted: {json.dumps(data['purge'], sort_keys=True)} in {data['purge_seconds']} s",
        "  GET /api/v1/me (partner token), wrk 2 threads 16 connections; p50 and p99 of the"
        " median run:",
    ]
    for name, row in (("before", before), ("during", during)):
        lines.append(
            f"    {name:6}  {row['rps']:>8} req/s  p50 {row['p50_ms']:>7} ms  "
            f"p99 {row['p99_ms']:>7} ms ({row['pooled_p99_ms']} pooled)  "
            f"p99/p50 {row['p99_over_p50']}  runs {row['runs']}  errors {row['errors']}"
        )
    verdict = "PASS" if data["pass"] else "FAIL"
    lines.append(f"  p99 during the purge within {TARGET_RATIO:g}x its p50: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--run-seconds", type=int, default=2, help="length of each wrk run")
    parser.add_argument("--before", type=int, default=10, help="seconds measured before")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("POSTGRES_TEST_URL", harness.DEFAULT_POSTGRES_URL),
    )
    parser.add_argument(
        "--purge-args",
        type=str.split,
        default=[],
        help='options for oauth-server purge, quoted: "--batch-size 500 --pause 1"',
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 unless p99 <= 3x p50")
    args = parser.parse_args(argv)
    if loadgen.wrk_path() is None:
        log("wrk is not installed (apt-get install wrk)")
        return 2
    problem = harness.postgres_available(args.postgres_url)
    if problem:
        log(f"PostgreSQL: {problem}")
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="bench-purge-") as folder,
        harness.postgres_database(args.postgres_url) as database_url,
    ):
        data = measure(args, Path(folder), database_url)
    print(report(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    return 1 if args.check and not data["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

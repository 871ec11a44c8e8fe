"""``make bench``: the server's cost per request, as ratios to a floor measured alongside.

For SQLite (WAL) and PostgreSQL, each in a temporary instance folder and database of its
own, this script:

1. seeds through the CLI (``db upgrade``, companies, admins, a team, the partner app) and
   the app's services (a personal token), then starts the server under gunicorn with 2
   workers (``oauth_server/gunicorn_conf.py`` when it exists) on a free loopback port,
   with rate limiting off: the benchmark measures the server, not the limiter;
2. obtains a partner grant through the real authorization-code flow (sign-in form,
   consent page with its CSRF token, ``/oauth/token``) and creates 60 conversations
   through the API;
3. drives each route with wrk (2 threads, 16 connections): a warm-up, then 5 runs of 2 s,
   each between two 1 s runs of each floor; a route's ratio to a floor is the median of
   its runs' ratios to that floor's runs around them. There are two floors: the app's own
   ``/healthz``, which pays for its request hooks, log line and limiter, and the bare floor,
   a Flask app of one route answering a short text (bench/bare.py) served by a second
   gunicorn with the same command and settings, started beside the server. Routes: ``/api/v1/me``
   with a personal and a partner token, ``/api/v1/conversations?limit=50``, the
   authorization-code exchange and the refresh at ``/oauth/token``, and ``POST
   /oauth/revoke``. Codes, refresh tokens and tokens to revoke work once: they are
   pre-issued (as the consent page and a refresh store them) and wrk sends each exactly
   once, read from a file (bench/load.lua);
4. grows the personal tokens from 1,000 to 1,000,000 (bulk inserts) and measures
   ``/api/v1/me`` again, and the token list page of a company with 100 and with 100,000
   tokens (signed in through the login form);
5. reads the resident memory of each worker, profiles the floor and every route of (2)
   to (5) with py-spy, and counts the SQL statements of one request of each route;

then prints one table, PASS/FAIL for every target (issue 6 against `/healthz`, issue 19
against the bare floor), and the profiles.

    .venv/bin/python bench/run.py [--only sqlite|postgres] [--no-profile] [--help]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import flow  # noqa: E402
from bench import harness  # noqa: E402
from bench import loadgen  # noqa: E402
from bench import profiling  # noqa: E402
from bench import seeding  # noqa: E402
from bench import sqlcount  # noqa: E402
from bench.loadgen import Result  # noqa: E402
from bench.loadgen import Target  # noqa: E402
from oauth_server.config import ENVIRONMENT  # noqa: E402

PASSWORD = "bench-password-1"
ADMIN = "admin@bench.test"
LIST_SMALL_ADMIN = "list-100@bench.test"
LIST_LARGE_ADMIN = "list-100k@bench.test"
FILLER_ADMIN = "filler@bench.test"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never followed: the code is read off it
PARTNER_SCOPE = "shared private"
CONVERSATIONS = 60
SMALL_TOKENS = 1_000
LARGE_TOKENS = 1_000_000
LIST_SMALL = 100
LIST_LARGE = 100_000
USER_AGENT = "bench/1.0"

# Targets of issue 6, as ratios to the /healthz floor (and on SQLite, PostgreSQL).
TARGETS = {
    "me_personal": {"sqlite": 0.5, "postgres": 0.4},
    "me_partner": {"sqlite": 0.5, "postgres": 0.4},
    "conversations": {"sqlite": 0.3, "postgres": 0.3},
    "exchange": {"sqlite": 0.15, "postgres": 0.12},
    "refresh": {"sqlite": 0.15, "postgres": 0.12},
    "revoke": {"sqlite": 0.2, "postgres": 0.2},
}
# Targets of issue 19, as ratios to the bare floor.
BARE_TARGETS = {
    "me_personal": {"sqlite": 0.6, "postgres": 0.45},
    "me_partner": {"sqlite": 0.6, "postgres": 0.45},
    "exchange": {"sqlite": 0.2, "postgres": 0.14},
    "refresh": {"sqlite": 0.2, "postgres": 0.14},
    "revoke": {"sqlite": 0.3, "postgres": 0.2},
}
# Every limit the server reads (oauth_server/config.py), for --limits.
LIMIT_SETTINGS = tuple(
    name
    for name in ENVIRONMENT
    if name.startswith("RATELIMIT_") and name not in {"RATELIMIT_ENABLED", "RATELIMIT_KEY_PREFIX"}
)
SCALE_TOKENS_MAX = 1.15
SCALE_LIST_MAX = 1.5
RSS_MAX_MB = 120.0
P99_OVER_P50_MAX = 3.0

LABELS = {
    "bare": "(0) GET / of a bare Flask app, the bare floor",
    "floor": "(1) GET /healthz, the floor",
    "me_personal": "(2) GET /api/v1/me, personal token",
    "me_partner": "(2) GET /api/v1/me, partner token",
    "conversations": "(3) GET /api/v1/conversations?limit=50",
    "exchange": "(4) POST /oauth/token, authorization_code",
    "refresh": "(4) POST /oauth/token, refresh_token",
    "revoke": "(5) POST /oauth/revoke (access token)",
    "me_personal_1m": "(2) GET /api/v1/me, personal, 1M tokens",
    "list_small": "token list page, company of 100 tokens",
    "list_large": "token list page, company of 100,000 tokens",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class ToFloor:
    """A route's runs against one floor's runs around them.

    Its ratio is the median of the ratios of its runs, each to the mean of the floor runs
    just before and after it: on a machine doing other work the floor moves, and a run
    compared with the seconds around it moves less.
    """

    runs: list[Result]
    floors: list[Result]  # one more than runs: floors[i] and floors[i + 1] frame runs[i]

    @property
    def ratios(self) -> list[float]:
        out = []
        for i, run in enumerate(self.runs):
            floor = (self.floors[i].rps + self.floors[i + 1].rps) / 2
            out.append(run.rps / floor if floor else 0.0)
        return out

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def cpu_ratio(self) -> float:
        """Floor's worker CPU per request over the route's: the ratio the route would have
        if the workers' CPU alone set the rate. Other load on the machine moves it little."""
        route = loadgen.combine(self.runs).cpu_ms
        return loadgen.combine(self.floors).cpu_ms / route if route else 0.0


@dataclass
class Measured:
    """A route's runs, each between two runs of each floor: ``/healthz`` and bare Flask."""

    key: str
    runs: list[Result]
    floors: list[Result]  # /healthz: one more than runs, framing them
    bares: list[Result]  # the bare floor's runs, framing the runs as ``floors`` do

    @property
    def result(self) -> Result:
        return loadgen.combine(self.runs)

    @property
    def healthz(self) -> ToFloor:
        return ToFloor(self.runs, self.floors)

    @property
    def bare(self) -> ToFloor:
        return ToFloor(self.runs, self.bares)

    @property
    def p50_ms(self) -> float:
        return loadgen.median_run(self.runs)[0]

    @property
    def p99_ms(self) -> float:
        return loadgen.median_run(self.runs)[1]

    @property
    def floor_rps(self) -> float:
        return statistics.mean(f.rps for f in self.floors)


@dataclass
class Backend:
    name: str
    rows: dict[str, Measured] = field(default_factory=dict)
    floors: dict[str, list[Result]] = field(default_factory=dict)  # by database size
    bare_floors: dict[str, list[Result]] = field(default_factory=dict)  # by database size
    seed_seconds: dict[str, float] = field(default_factory=dict)
    rss_mb: list[float] = field(default_factory=list)
    profiles: list[profiling.Profile] = field(default_factory=list)
    sql: list[sqlcount.Statements] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    skipped: str | None = None
    traceback_in_log: bool = False
    repeated: int = 0  # runs made again: one worker did under a quarter, or values ran out


FLOOR = Target("GET", "/healthz", {"User-Agent": USER_AGENT})
BARE = Target("GET", "/", {"User-Agent": USER_AGENT})

# A run counts when each worker did at least this share of the workers' CPU (Bench.load).
BALANCED_SHARE = 0.25
BALANCE_ATTEMPTS = 5


def _balanced(spent: list[float]) -> bool:
    total = sum(spent)
    return total <= 0 or min(spent) >= BALANCED_SHARE * total


class Bench:
    def __init__(
        self,
        backend: Backend,
        server: harness.Server,
        bare: harness.Server,
        args: argparse.Namespace,
    ):
        self.backend = backend
        self.server = server
        self.bare = bare
        self.args = args
        self.folder = server.folder
        self.size = "1k"  # the database's personal tokens: "1k", then "1M"
        self.last_floor: Result | None = None
        self.last_bare: Result | None = None

    # --- measuring ------------------------------------------------------------------------

    def load(
        self,
        target: Target | Callable[[], Target],
        seconds: int,
        *,
        balance: bool = True,
        server: harness.Server | None = None,
    ) -> Result:
        """One run of ``seconds``, again (with a fresh ``target()``) while it was one-sided.

        wrk opens its connections at once, and keeps them. On one shared listening
        socket, the gunicorn worker that accepted first sometimes took them all, and the
        run measured one worker instead of the server (on this 2-CPU machine, half the
        floor's rate). Each worker now listens on a socket of its own (gunicorn_conf
        ``reuse_port``), which the kernel fills by address; a run is still kept only
        when every worker did at least ``BALANCED_SHARE`` of the work, or after
        ``BALANCE_ATTEMPTS``; the report counts the runs made again. Warm-ups
        (``balance=False``) are kept as they come. ``server``: the bare floor's, else ours.
        """
        server = server or self.server
        for attempt in range(1, BALANCE_ATTEMPTS + 1):
            before = server.worker_cpu_each()
            result = loadgen.run(server.url, target() if callable(target) else target, seconds)
            spent = [b - a for a, b in zip(before, server.worker_cpu_each(), strict=False)]
            result.worker_cpu_s = sum(spent)
            if not balance or _balanced(spent) or attempt == BALANCE_ATTEMPTS:
                break
            self.backend.repeated += 1
            log(f"one worker took {max(spent) / sum(spent):.0%} of a run's work: once more")
            server.drain()
        return result

    def floor(self) -> tuple[Result, Result]:
        """A run of each floor, ``/healthz`` then the bare app's; the first one warmed up."""
        self.server.drain()
        if self.last_floor is None:
            self.load(FLOOR, self.args.warmup, balance=False)
            self.load(BARE, self.args.warmup, balance=False, server=self.bare)
        result = self.load(FLOOR, self.args.floor_seconds)
        self.backend.floors.setdefault(self.size, []).append(result)
        self.last_floor = result
        bare = self.load(BARE, self.args.floor_seconds, server=self.bare)
        self.backend.bare_floors.setdefault(self.size, []).append(bare)
        self.last_bare = bare
        return result, bare

    def last_floors(self) -> tuple[Result, Result]:
        """The floors' last runs, to frame a route's first run (measured if there are none)."""
        if self.last_floor is None or self.last_bare is None:
            return self.floor()
        return self.last_floor, self.last_bare

    def framed(
        self, key: str, first: tuple[Result, Result], run: Callable[[int], Result]
    ) -> Measured:
        """``--rounds`` runs of a route (``run(round)``), each followed by the floors'."""
        floors, bares, runs = [first[0]], [first[1]], []
        for round_ in range(self.args.rounds):
            runs.append(run(round_))
            floor, bare = self.floor()
            floors.append(floor)
            bares.append(bare)
        return self._record(Measured(key, runs, floors, bares))

    def measure(self, key: str, target: Target | Any) -> Measured:
        """A warm-up, then ``--rounds`` runs of the route, each followed by one of the floor.

        ``target`` is a Target, or a function of the round number that returns one (for
        single-use values, a fresh batch each round).
        """
        make = target if callable(target) else (lambda _round: target)
        first = self.last_floors()
        self.load(make(-1), self.args.warmup, balance=False)
        return self.framed(
            key, first, lambda round_: self.load(functools.partial(make, round_), self.args.seconds)
        )

    def _record(self, row: Measured) -> Measured:
        self.backend.rows[row.key] = row
        result = row.result
        log(
            f"{self.backend.name} {LABELS[row.key]}: {result.rps:.0f} req/s, p50 "
            f"{row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms (runs "
            + " ".join(f"{r.p99_ms:.1f}" for r in row.runs)
            + f"; all together {result.p99_ms:.1f}), ratios "
            + " ".join(f"{r:.3f}" for r in row.healthz.ratios)
            + f" (floor {row.floor_rps:.0f} req/s), worker CPU {result.cpu_ms:.2f} ms/request"
            + f" (ratio {row.healthz.cpu_ratio:.3f}), ratios to the bare floor "
            + " ".join(f"{r:.3f}" for r in row.bare.ratios)
            + f" (bare CPU ratio {row.bare.cpu_ratio:.3f}), errors {result.errors}"
            + (" (ran out of pre-issued values)" if result.exhausted else "")
            + (f" (first: {result.sample[:120]})" if result.sample else "")
        )
        return row

    def single_use(self, key: str, make_target: Any, issue: Any) -> Measured:
        """A route whose every request spends a value: each run reads a fresh batch.

        ``issue(n)`` pre-issues n values and returns their request bodies;
        ``make_target(path)`` is the target reading bodies from ``path``. The warm-up's
        batch is sized from the floor (an upper bound), the others from the warm-up's rate.
        """
        floor = self.last_floors()[0]
        # Generous: the floor moves a lot on a shared machine, and a run that runs out
        # measures nothing. Issuing is a bulk insert.
        cap = int(floor.rps * self.args.seconds * 2.5) + 1000
        rate = {"rps": 0.0, "exhausted": True}

        def batch(round_: int) -> Target:
            if round_ < 0:
                count = int(floor.rps * self.args.warmup * 2) + 500
            elif rate["exhausted"]:
                count = cap
            else:
                count = min(int(rate["rps"] * self.args.seconds * 3) + 300, cap)
            path = self.folder / f"{key}-{round_ + 1}.txt"
            path.write_text("\n".join(issue(count)) + "\n")
            return make_target(path)

        def run(round_: int) -> Result:
            """A round, again with the largest batch if a wrk thread ran out of values."""
            for _attempt in range(BALANCE_ATTEMPTS):
                result = self.load(functools.partial(batch, round_), self.args.seconds)
                # The fastest rate seen sizes the next batches: a slow warm-up (one
                # worker had its connections) would leave the next round short.
                rate.update(rps=max(rate["rps"], result.rps), exhausted=result.exhausted)
                if not result.exhausted:
                    break
                self.backend.repeated += 1
                log(f"{key}: a wrk thread ran out of pre-issued values: once more, with more")
                self.server.drain()
            return result

        warm_up = self.load(batch(-1), self.args.warmup, balance=False)
        rate.update(rps=warm_up.rps, exhausted=warm_up.exhausted)
        return self.framed(key, self.floor(), run)

    # --- the run --------------------------------------------------------------------------

    def seed_cli(self) -> dict[str, Any]:
        cli = self.server.cli
        started = time.perf_counter()
        cli("db", "upgrade")
        cli("companies", "create", "Bench Co", "--plan", "scale", "--teams")
        cli(
            "users",
            "create",
            "--company",
            "Bench Co",
            "--email",
            ADMIN,
            "--password",
            PASSWORD,
            "--name",
            "Bench Admin",
            "--admin",
        )
        team = json.loads(
            cli("teams", "create", "--company", "Bench Co", "--name", "Support", "--member", ADMIN)
        )
        app = json.loads(
            cli("clients", "create", "--name", "Bench Partner", "--redirect-uri", REDIRECT_URI)
        )
        for company, email in (
            ("Bench List 100", LIST_SMALL_ADMIN),
            ("Bench List 100k", LIST_LARGE_ADMIN),
            ("Bench Filler", FILLER_ADMIN),
        ):
            cli("companies", "create", company, "--plan", "growth")
            cli(
                "users",
                "create",
                "--company",
                company,
                "--email",
                email,
                "--password",
                PASSWORD,
                "--admin",
            )
        with seeding.app_context(self.server.settings):
            personal = seeding.issue_personal_token(ADMIN, "shared")
            seeding.bulk_personal_tokens(LIST_SMALL_ADMIN, LIST_SMALL)
            seeding.bulk_personal_tokens(
                FILLER_ADMIN, SMALL_TOKENS - seeding.personal_token_count()
            )
            assert seeding.personal_token_count() == SMALL_TOKENS
        self.backend.seed_seconds["cli and 1,000 tokens"] = time.perf_counter() - started
        return {"team_id": team["id"], "app": app, "personal": personal}

    def run(self) -> None:
        seed = self.seed_cli()
        app = seed["app"]
        client_id, client_secret = app["client_id"], app["client_secret"]
        personal = seed["personal"]
        self.server.start()
        url = self.server.url

        # The partner grant through the real flow, and the conversations through the API.
        browser = flow.sign_in(url, ADMIN, PASSWORD)
        grant = flow.authorize(
            browser,
            url,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=REDIRECT_URI,
            scope=PARTNER_SCOPE,
        )
        for i in range(CONVERSATIONS):
            flow.api(
                url,
                personal,
                "POST",
                "/conversations",
                json={"subject": f"Bench conversation {i}", "team_id": seed["team_id"]},
            )
        listed = flow.api(url, personal, "GET", "/conversations?limit=50")
        assert len(listed["_results"]) == 50, listed
        assert flow.api(url, grant.access_token, "GET", "/me")["kind"] == "oauth"

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}

        me_personal = Target("GET", "/api/v1/me", bearer(personal))
        me_partner = Target("GET", "/api/v1/me", bearer(grant.access_token))
        self.measure("me_personal", me_personal)
        self.measure("me_partner", me_partner)
        conversations = Target("GET", "/api/v1/conversations?limit=50", bearer(personal))
        self.backend.targets["conversations"] = conversations
        self.measure("conversations", conversations)

        form = {
            "Authorization": flow.basic_auth(client_id, client_secret),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
        }

        def post(path: str) -> Any:
            return lambda bodies: Target("POST", path, form, bodies=bodies)

        verifier, challenge = flow.pkce_pair()

        with seeding.app_context(self.server.settings) as app:

            def codes(n: int) -> list[str]:
                issued = seeding.issue_codes(
                    n,
                    client_id=client_id,
                    email=ADMIN,
                    redirect_uri=REDIRECT_URI,
                    scope=PARTNER_SCOPE,
                    challenge=challenge,
                )
                return [
                    urlencode(
                        {
                            "grant_type": "authorization_code",
                            "code": c,
                            "redirect_uri": REDIRECT_URI,
                            "code_verifier": verifier,
                        }
                    )
                    for c in issued
                ]

            def refreshes(n: int) -> list[str]:
                pairs = seeding.issue_pairs(n, access_token=grant.access_token)
                return [
                    urlencode({"grant_type": "refresh_token", "refresh_token": r}) for _, r in pairs
                ]

            def revocations(n: int) -> list[str]:
                pairs = seeding.issue_pairs(n, access_token=grant.access_token)
                return [
                    urlencode({"token": a, "token_type_hint": "access_token"}) for a, _ in pairs
                ]

            self.single_use("exchange", post("/oauth/token"), codes)
            self.single_use("refresh", post("/oauth/token"), refreshes)
            # Access tokens only: revoking a refresh token ends its whole grant.
            self.single_use("revoke", post("/oauth/revoke"), revocations)

            if self.args.profile:
                self.profile("floor", FLOOR)
                self.profile("me_personal", me_personal)
                self.profile("me_partner", me_partner)
                self.profile("conversations", self.backend.targets["conversations"])
                self.profile_single_use("exchange", post("/oauth/token"), codes)
                self.profile_single_use("refresh", post("/oauth/token"), refreshes)
                self.profile_single_use("revoke", post("/oauth/revoke"), revocations)

            for key, target in (
                ("floor", FLOOR),
                ("me_personal", me_personal),
                ("me_partner", me_partner),
                ("conversations", self.backend.targets["conversations"]),
            ):
                self.count_sql(app, key, target)
            for key, path, issue in (
                ("exchange", "/oauth/token", codes),
                ("refresh", "/oauth/token", refreshes),
                ("revoke", "/oauth/revoke", revocations),
            ):
                self.count_sql(app, key, Target("POST", path, form, body=issue(1)[0]))

        if self.args.scale:
            self.scale(me_personal)
        self.backend.rss_mb = self.server.worker_rss_mb()
        log(f"{self.backend.name} resident memory per worker: {self.backend.rss_mb} MB")

    def scale(self, me_personal: Target) -> None:
        started = time.perf_counter()
        with seeding.app_context(self.server.settings):
            # The big company's tokens first, then everybody else's: its newest token is
            # older than 900,000 others, as for a company that stopped making tokens.
            seeding.bulk_personal_tokens(LIST_LARGE_ADMIN, LIST_LARGE)
            seeding.bulk_personal_tokens(
                FILLER_ADMIN, LARGE_TOKENS - seeding.personal_token_count()
            )
            assert seeding.personal_token_count() == LARGE_TOKENS
        seconds = time.perf_counter() - started
        self.backend.seed_seconds["from 1,000 to 1,000,000 tokens"] = seconds
        log(f"{self.backend.name} seeded 1,000,000 personal tokens in {seconds:.1f} s")
        url = self.server.url
        cookies = {}
        for key, email in (("list_small", LIST_SMALL_ADMIN), ("list_large", LIST_LARGE_ADMIN)):
            session = flow.sign_in(url, email, PASSWORD)
            session.headers["User-Agent"] = USER_AGENT
            page = session.get(url + "/settings/plugins-api/api", allow_redirects=False, timeout=30)
            assert page.status_code == 200 and "filler" in page.text, page.status_code
            cookies[key] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        self.size, self.last_floor, self.last_bare = "1M", None, None
        self.measure("me_personal_1m", me_personal)
        pages = {
            key: Target(
                "GET", "/settings/plugins-api/api", {"Cookie": cookie, "User-Agent": USER_AGENT}
            )
            for key, cookie in cookies.items()
        }
        for key, target in pages.items():
            self.measure(key, target)
        with seeding.app_context(self.server.settings) as app:
            for key, target in pages.items():
                self.count_sql(app, key, target)

    def count_sql(self, app: Any, key: str, target: Target) -> None:
        def send(client: Any) -> Any:
            headers = dict(target.headers)
            # The test client sends the cookies of its own jar, not a Cookie header.
            for pair in filter(None, headers.pop("Cookie", "").split("; ")):
                name, _, value = pair.partition("=")
                client.set_cookie(name, value)
            return client.open(target.path, method=target.method, headers=headers, data=target.body)

        self.backend.sql.append(sqlcount.count(app, f"{self.backend.name} {LABELS[key]}", send))

    # --- profiles -------------------------------------------------------------------------

    def profile(self, key: str, target: Target) -> None:
        self._profiled(key, lambda: target)

    def profile_single_use(self, key: str, make_target: Any, issue: Any) -> None:
        rps = self.backend.rows[key].result.rps
        bodies = self.folder / f"{key}-profile.txt"
        bodies.write_text("\n".join(issue(int(rps * self.args.profile_seconds * 2) + 500)) + "\n")
        self._profiled(key, lambda: make_target(bodies))

    def _profiled(self, key: str, target: Any) -> None:
        assert self.server.proc is not None
        raw = self.folder / f"profile-{key}.txt"
        seconds = self.args.profile_seconds
        spy = profiling.record(self.server.proc.pid, seconds, raw)
        result = self.load(target(), seconds, balance=False)
        _, stderr = spy.communicate(timeout=seconds + 30)
        if not raw.exists():
            log(f"py-spy failed: {stderr.decode(errors='replace').strip()[:300]}")
            return
        profile = profiling.summarize(
            f"{self.backend.name} {LABELS[key]}", raw, result.requests, result.seconds
        )
        if self.args.keep_profiles:
            keep = Path(self.args.keep_profiles)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"{self.backend.name}-{key}.txt").write_text(raw.read_text())
        self.backend.profiles.append(profile)
        self.last_floor = self.last_bare = None  # the next row measures floors of its own
        log(f"{self.backend.name} profiled {LABELS[key]} ({result.rps:.0f} req/s under py-spy)")


def bench_backend(name: str, args: argparse.Namespace) -> Backend:
    backend = Backend(name)
    if name == "postgres":
        why = harness.postgres_available(args.postgres_url)
        if why:
            backend.skipped = why
            log(f"PostgreSQL skipped: {why}")
            return backend
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        folder = Path(tmp)
        database = (
            harness.postgres_database(args.postgres_url)
            if name == "postgres"
            else harness.sqlite_database(folder)
        )
        with database as database_url:
            server = harness.Server(database_url, folder, threads=args.threads)
            if args.limits:
                # Limits on, and high enough never to answer 429: their cost, not their effect.
                server.settings["RATELIMIT_ENABLED"] = "true"
                for setting in LIMIT_SETTINGS:
                    server.settings[setting] = "1000000 per minute"
                if args.redis_url:
                    server.settings["REDIS_URL"] = args.redis_url
                    server.settings["RATELIMIT_KEY_PREFIX"] = f"bench-{os.getpid()}-{name}"
            # The bare floor: the same gunicorn command and settings, bench/bare.py's app.
            bare = harness.Server(
                database_url,
                folder / "bare",
                threads=args.threads,
                app=harness.BARE_APP,
                ready_path=BARE.path,
            )
            log(f"{name}: server on {server.url}, instance {folder}; bare floor on {bare.url}")
            try:
                bare.start()
                Bench(backend, server, bare, args).run()
            finally:
                bare.stop()
                server.stop()
                backend.traceback_in_log = "Traceback" in server.log_text()
                if backend.traceback_in_log:
                    log(f"{name}: the server logged a traceback:\n{server.log_tail(40)}")
                if args.limits and args.redis_url:
                    _forget_counters(args.redis_url, server.settings["RATELIMIT_KEY_PREFIX"])
    return backend


def _forget_counters(redis_url: str, prefix: str) -> None:
    """Delete the rate-limit counters this run left in Redis (they would expire anyway)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*/{prefix}/*", count=1000))
    if keys:
        client.delete(*keys)


# --- the report ---------------------------------------------------------------------------


def _checks(backend: Backend, row: Measured) -> list[str]:
    """Why a row fails: a ratio (to either floor), errors, p99 over 3x p50, values ran out."""
    problems = []
    target = TARGETS.get(row.key, {}).get(backend.name)
    if target is not None and row.healthz.ratio < target:
        problems.append(f"ratio < {target}")
    bare_target = BARE_TARGETS.get(row.key, {}).get(backend.name)
    if bare_target is not None and row.bare.ratio < bare_target:
        problems.append(f"bare ratio < {bare_target}")
    if row.result.errors:
        problems.append("errors")
    if row.p99_ms > P99_OVER_P50_MAX * row.p50_ms:
        problems.append("p99 > 3x p50")
    if row.result.exhausted:
        problems.append("ran out of values")
    return problems


def _size_of(key: str) -> str:
    """The database a row was measured on: 1,000 or 1,000,000 personal tokens."""
    return "1M" if key.endswith("_1m") or key.startswith("list") else "1k"


def _floor_line(
    backend: Backend, size: str, key: str, floors: list[Result], bares: list[Result]
) -> str:
    """All the runs of one floor at one database size together, the range of their rates,
    and their ratios to each floor (the bare floor's runs framing each of them)."""
    rates = sorted(f.rps for f in floors)
    r = loadgen.combine(floors)
    p50, p99 = loadgen.median_run(floors)
    label = LABELS[key] + (", 1M tokens" if size == "1M" else "")
    if key == "floor":
        to_floor, to_bare = (
            "1",
            f"{statistics.median(f.rps / b.rps for f, b in zip(floors, bares, strict=True)):.3f}",
        )
        cpu = f"{r.cpu_ms:.2f} (1, {loadgen.combine(bares).cpu_ms / r.cpu_ms:.3f})"
    else:
        to_floor, to_bare, cpu = "", "1", f"{r.cpu_ms:.2f} (, 1)"
    return (
        f"| {backend.name} | {label} ({len(floors)} runs: {rates[0]:.0f} to {rates[-1]:.0f} "
        f"req/s) | {r.rps:.0f} | {p50:.1f} | {p99:.1f} ({r.p99_ms:.1f}) | {to_floor} | | "
        f"{to_bare} | | {r.errors} | {'FAIL: errors' if r.errors else 'reference'} | {cpu} |"
    )


def report(backends: list[Backend]) -> tuple[str, bool]:
    lines = [
        "| db | route | req/s | p50 ms | p99 ms (all runs) | ratio to /healthz | target "
        "| ratio to bare Flask | target | errors | result "
        "| worker CPU ms/req (ratio to /healthz, to bare) |",
        "|---|---|---:|---:|---:|---:|---|---:|---|---:|---|---:|",
    ]
    verdicts: list[tuple[str, bool]] = []
    for backend in backends:
        if backend.skipped:
            lines.append(f"| {backend.name} | skipped: {backend.skipped} | | | | | | | | | | |")
            continue
        rows = backend.rows
        for size, floors in backend.floors.items():
            bares = backend.bare_floors.get(size, [])
            lines.append(_floor_line(backend, size, "bare", bares, bares))
            lines.append(_floor_line(backend, size, "floor", floors, bares))
            verdicts.append(
                (f"{backend.name} floors {size}", not any(f.errors for f in floors + bares))
            )
            for key, row in rows.items():
                if _size_of(key) != size:
                    continue
                r = row.result
                target = TARGETS.get(key, {}).get(backend.name)
                bare_target = BARE_TARGETS.get(key, {}).get(backend.name)
                problems = _checks(backend, row)
                verdicts.append((f"{backend.name} {LABELS[key]}", not problems))
                lines.append(
                    f"| {backend.name} | {LABELS[key]} | {r.rps:.0f} | {row.p50_ms:.1f} | "
                    f"{row.p99_ms:.1f} ({r.p99_ms:.1f}) | {row.healthz.ratio:.3f} | "
                    f"{f'>= {target}' if target else ''} | {row.bare.ratio:.3f} | "
                    f"{f'>= {bare_target}' if bare_target else ''} | "
                    f"{r.errors} | {'PASS' if not problems else 'FAIL: ' + ', '.join(problems)} | "
                    f"{r.cpu_ms:.2f} ({row.healthz.cpu_ratio:.3f}, {row.bare.cpu_ratio:.3f}) |"
                )
        if "me_personal_1m" in rows and "me_personal" in rows:
            # Each against the floor measured beside it: the machine may be doing other work.
            small, large = rows["me_personal"], rows["me_personal_1m"]
            cost = small.healthz.ratio / large.healthz.ratio
            ok = cost <= SCALE_TOKENS_MAX
            verdicts.append((f"{backend.name} (2) 1M vs 1k tokens", ok))
            lines.append(
                f"| {backend.name} | (2) personal token: cost with 1,000,000 tokens / with "
                f"1,000 | | | | {cost:.2f}x | <= {SCALE_TOKENS_MAX}x | | | | "
                f"{'PASS' if ok else 'FAIL'} | {large.result.cpu_ms / small.result.cpu_ms:.2f}x |"
            )
        if "list_large" in rows and "list_small" in rows:
            small, large = rows["list_small"], rows["list_large"]
            cost = small.healthz.ratio / large.healthz.ratio
            ok = cost <= SCALE_LIST_MAX
            verdicts.append((f"{backend.name} token list 100k vs 100", ok))
            lines.append(
                f"| {backend.name} | token list page: cost with 100,000 tokens / with 100 "
                f"| | | | {cost:.2f}x | <= {SCALE_LIST_MAX}x | | | | {'PASS' if ok else 'FAIL'} | "
                f"{large.result.cpu_ms / small.result.cpu_ms:.2f}x |"
            )
        if backend.rss_mb:
            ok = max(backend.rss_mb) < RSS_MAX_MB
            verdicts.append((f"{backend.name} RSS per worker", ok))
            rss = " / ".join(f"{mb:.0f}" for mb in backend.rss_mb)
            lines.append(
                f"| {backend.name} | resident memory per worker after the run, MB | | | | "
                f"{rss} | < {RSS_MAX_MB:.0f} | | | | {'PASS' if ok else 'FAIL'} | |"
            )
        if backend.traceback_in_log:
            verdicts.append((f"{backend.name} no traceback in the server log", False))
            lines.append(
                f"| {backend.name} | the server log has a traceback | | | | | | | | | FAIL | |"
            )
    passed = sum(ok for _, ok in verdicts)
    lines.append("")
    lines.append(f"{passed} of {len(verdicts)} checks pass.")
    return "\n".join(lines), passed == len(verdicts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each route")
    parser.add_argument("--seconds", type=int, default=2, help="length of each run of a route")
    parser.add_argument("--warmup", type=int, default=1, help="length of each warm-up run")
    parser.add_argument(
        "--floor-seconds",
        type=int,
        default=1,
        help="length of each run of the floor (before the first and after every run)",
    )
    parser.add_argument(
        "--profile-seconds", type=int, default=4, help="length of each profiled run"
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one database only")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or harness.DEFAULT_POSTGRES_URL,
        help="server where a database is created and dropped (default: %(default)s)",
    )
    parser.add_argument(
        "--no-scale",
        dest="scale",
        action="store_false",
        help="skip the 1,000,000-token and 100,000-token checks",
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the py-spy profiles of (1) to (5)",
    )
    parser.add_argument(
        "--keep-profiles", metavar="DIR", help="keep py-spy's collapsed stacks in DIR"
    )
    parser.add_argument(
        "--threads", type=int, help="gunicorn threads per worker (default: its settings)"
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="keep rate limiting on, every limit at 1,000,000 per minute (its cost)",
    )
    parser.add_argument("--redis-url", help="with --limits: count in this Redis")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 unless every target passes"
    )
    args = parser.parse_args(argv)
    if loadgen.wrk_path() is None:
        print("wrk is not installed: apt-get install wrk (make bench does it)", file=sys.stderr)
        return 2
    if args.profile and profiling.py_spy() is None:
        print(
            "py-spy is not installed: pip install -e '.[bench]' (make bench does it)",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    names = [args.only] if args.only else ["sqlite", "postgres"]
    backends = [bench_backend(name, args) for name in names]
    table, all_pass = report(backends)
    elapsed = time.perf_counter() - started
    print()
    print(
        f"Measured {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; gunicorn {harness.WORKERS} workers; "
        f"wrk {loadgen.THREADS} threads, {loadgen.CONNECTIONS} connections, "
        f"per route a {args.warmup} s warm-up and {args.rounds} runs of {args.seconds} s, "
        f"each between two {args.floor_seconds} s runs of each floor (/healthz, and the "
        "bare Flask app under the same gunicorn command); "
        + ("rate limiting on (limits never reached)" if args.limits else "rate limiting off")
        + (f"; {args.threads} threads per worker" if args.threads else "")
        + "; runs made again (one worker did under a quarter of the work, or a batch of "
        + "single-use values was short): "
        + ", ".join(f"{b.name} {b.repeated}" for b in backends)
        + "."
    )
    print()
    print(table)
    for backend in backends:
        for name, seconds in backend.seed_seconds.items():
            print(f"{backend.name}: seeding {name} took {seconds:.1f} s")
    for backend in backends:
        for profile in backend.profiles:
            print()
            print("\n".join(profile.lines()))
    for backend in backends:
        print()
        for statements in backend.sql:
            print("\n".join(statements.lines()))
    print()
    print(f"Total time: {elapsed:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    b.name: {
                        "skipped": b.skipped,
                        "rows": {
                            k: {
                                **m.result.as_dict(),
                                "p50_ms_median_run": m.p50_ms,
                                "p99_ms_median_run": m.p99_ms,
                                "p99_ms_runs": [r.p99_ms for r in m.runs],
                                "ratio": round(m.healthz.ratio, 4),
                                "ratios": [round(r, 4) for r in m.healthz.ratios],
                                "floor_rps": round(m.floor_rps, 1),
                                "bare_ratio": round(m.bare.ratio, 4),
                                "bare_ratios": [round(r, 4) for r in m.bare.ratios],
                            }
                            for k, m in b.rows.items()
                        },
                        "floors": {
                            size: [f.as_dict() for f in runs] for size, runs in b.floors.items()
                        },
                        "bare_floors": {
                            size: [f.as_dict() for f in runs]
                            for size, runs in b.bare_floors.items()
                        },
                        "rss_mb": b.rss_mb,
                        "runs_made_again": b.repeated,
                        "seed_seconds": b.seed_seconds,
                        "sql": [
                            {"route": q.route, "status": q.status, "statements": q.sql}
                            for q in b.sql
                        ],
                        "profiles": [
                            {
                                "route": p.route,
                                "requests": p.requests,
                                "samples": p.samples,
                                "flat": dict(p.flat),
                                "inclusive": dict(p.inclusive),
                            }
                            for p in b.profiles
                        ],
                    }
                    for b in backends
                },
                indent=2,
            )
        )
    return 1 if args.check and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())

"""The scenarios as data: one `Scenario` row each in `SCENARIOS`, in table order.

A row names the scenario, the crypto one request does (its `Cost`, hence its limit), whether
the peer runs it too, and how it is measured: most build a wrk `Load` (URL, method, headers,
body, expected answer) from the `Target` in a setup function of their own and are driven by
`with_wrk`; `refresh` and `verify` have measures of their own. Adding a scenario is adding a
row and its setup function; the harness, the peer run, the limits and the report follow.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import secrets
import urllib.error
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import AUDIENCE, REPO, SCOPE, BenchError, Unavailable, log
from bench.issuer_server import Issuer
from bench.limits import Cost, Limits
from bench.loopback import (
    Browser,
    CodeClient,
    Discovery,
    authorize_url,
    http,
    metric_sum,
    pkce_pair,
    token_response,
)
from bench.options import Options
from bench.processes import run
from bench.results import Row
from bench.wrk import Load, drive

__all__ = ["BY_NAME", "SCENARIOS", "Scenario", "Target", "measure"]


@dataclass
class Target:
    """One server under test, as a scenario sees it."""

    kind: str  # "issuer" or "peer": the row's target
    base: str
    discovery: Discovery
    alg: str
    workers: int | None  # None for the peer (one Node process)
    cc_auth: str  # Basic header of a client_credentials client
    opts: Options
    tmp: Path
    p80: bool  # run the p99-at-80 %-of-peak pass
    issuer: Issuer | None = None  # the bench user and login clients; the peer has none
    code_client: CodeClient | None = None  # the code flow's public client and login

    def endpoint(self, key: str) -> str:
        return self.discovery.endpoint(key)

    def code(self) -> CodeClient:
        if self.code_client is None:
            why = self.issuer.code_missing if self.issuer else ""
            raise Unavailable(why or f"the {self.kind} has no code-flow client")
        return self.code_client

    def fixtures(self) -> Issuer:
        if self.issuer is None:
            raise Unavailable(f"the {self.kind} has no bench user")
        return self.issuer


Measure = Callable[[Target, Row], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    cost: Cost  # the crypto per request: the limit it is compared to
    measure: Measure
    on_peer: bool = False  # the peer runs it too (same scenario, same alg, same run)
    peer_label: str | None = None  # the peer row's scenario name when it differs

    def label(self, kind: str) -> str:
        return (self.peer_label or self.name) if kind == "peer" else self.name


def measure(sc: Scenario, t: Target, limits: Limits) -> Row:
    """One row: the scenario's limit, then its measurement, or why there is none."""
    row = Row(t.kind, sc.label(t.kind), t.alg, t.workers)
    row.limit, row.limit_basis = sc.cost.limit(limits, t.alg), sc.cost.basis()
    log(f"{t.kind} {sc.name} {t.alg}" + (f" workers={t.workers}" if t.workers else ""))
    try:
        sc.measure(t, row)
    except Unavailable as exc:
        row.status, row.note = "unavailable", str(exc)
    except BenchError as exc:
        row.status, row.note = "failed", str(exc)
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        row.status, row.note = "failed", f"{type(exc).__name__}: {exc}"
    return row


def with_wrk(setup: Callable[[Target], Load]) -> Measure:
    """The measure of a plain wrk scenario: its setup's Load, driven at peak (and at 80 %)."""

    def run_load(t: Target, row: Row) -> None:
        drive(setup(t), t.opts, row, p80=t.p80)

    return run_load


# --------------------------------------------------------------------------- tokens


def cc_access_token(t: Target) -> str:
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    return str(token_response(t.endpoint("token_endpoint"), t.cc_auth, form)["access_token"])


def user_access_token(t: Target) -> str:
    return str(t.fixtures().login(t.endpoint("token_endpoint"), t.alg)["access_token"])


# --------------------------------------------------------------------------- setups


def jwks(t: Target) -> Load:
    return Load(t.endpoint("jwks_uri"), {})


def jwks_not_modified(t: Target) -> Load:
    status, headers, _ = http("GET", t.endpoint("jwks_uri"))
    etag = headers.get("etag")
    if status != 200 or not etag:
        raise BenchError(f"JWKS answered {status} with no ETag")
    return Load(t.endpoint("jwks_uri"), {"INM": etag, "EXPECT": "304"})


def client_credentials(t: Target) -> Load:
    return Load(
        t.endpoint("token_endpoint"),
        {
            "METHOD": "POST",
            "AUTH": t.cc_auth,
            "BODY": f"grant_type=client_credentials&scope={SCOPE}",
        },
    )


def password(t: Target) -> Load:
    iss = t.fixtures()
    return Load(
        t.endpoint("token_endpoint"),
        {
            "METHOD": "POST",
            "AUTH": iss.auth(f"login-{t.alg}"),
            "BODY": urllib.parse.urlencode(iss.login_form()),
        },
    )


def introspect(t: Target) -> Load:
    body = urllib.parse.urlencode(
        {"token": user_access_token(t), "token_type_hint": "access_token"}
    )
    return Load(
        t.endpoint("introspection_endpoint"),
        {
            "METHOD": "POST",
            "AUTH": t.cc_auth,
            "BODY": body,
            "EXPECT_BODY": '"active"%s*:%s*true',
        },
    )


def userinfo(t: Target) -> Load:
    return Load(t.endpoint("userinfo_endpoint"), {"AUTH": f"Bearer {user_access_token(t)}"})


def refresh_chains(t: Target) -> Load:
    """Rotation chains (bench/README.md): one connection per wrk thread, each seeded with a
    refresh token of its own; a pass's never-presented last tokens seed the next pass, topped
    up by new logins."""
    iss = t.fixtures()
    token_url = t.endpoint("token_endpoint")
    seeds: list[str] = []
    seed_file = t.tmp / f"seeds-{t.alg}-{t.workers}.txt"
    out_file = t.tmp / f"left-{t.alg}-{t.workers}.txt"

    def login() -> str:
        return str(iss.login(token_url, t.alg)["refresh_token"])

    def before(conns: int) -> dict[str, str]:
        short = conns - len(seeds)
        if short > 0:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                seeds.extend(ex.map(lambda _: login(), range(short)))
        use = [seeds.pop() for _ in range(conns)]
        seed_file.write_text("\n".join(use) + "\n")
        out_file.unlink(missing_ok=True)
        return {"SEEDS": str(seed_file), "OUT": str(out_file)}

    def after() -> None:
        if out_file.exists():  # the chains' last tokens, never presented: they continue
            seeds.extend(tok for tok in out_file.read_text().split() if tok)

    return Load(
        token_url,
        {"METHOD": "POST", "MODE": "refresh", "AUTH": iss.auth(f"login-{t.alg}")},
        chains=True,
        before=before,
        after=after,
    )


def code_flow(t: Target) -> Load:
    """The code flow (bench/README.md): one browser session per connection, logged in once
    through the server's own pages (and kept for every pass), then authorize → 302 with a code
    → token exchange with the PKCE verifier, per connection, in lua/bench.lua's `code` mode."""
    client = t.code()
    authorize = t.endpoint("authorization_endpoint")
    token_url = t.endpoint("token_endpoint")
    a, b = urllib.parse.urlsplit(authorize), urllib.parse.urlsplit(token_url)
    if a.netloc != b.netloc:
        raise BenchError(f"authorize ({a.netloc}) and token ({b.netloc}) on different hosts")
    sessions: list[str] = []
    cookie_file = t.tmp / f"sessions-{t.kind}-{t.alg}-{t.workers}.txt"
    pkce_file = t.tmp / f"pkce-{t.kind}-{t.alg}-{t.workers}.txt"
    pkce_file.write_text("".join(" ".join(pkce_pair()) + "\n" for _ in range(256)))

    def login() -> str:
        browser = Browser()
        session = browser_login(browser, client, authorize, token_url, t.alg)
        if not session:
            raise BenchError(f"the {t.kind} set no session cookie at its login")
        return session

    def before(conns: int) -> dict[str, str]:
        short = conns - len(sessions)
        if short > 0:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                sessions.extend(ex.map(lambda _: login(), range(short)))
        cookie_file.write_text("\n".join(sessions[:conns]) + "\n")
        return {"COOKIES": str(cookie_file)}

    return Load(
        token_url,
        {
            "MODE": "code",
            "AUTHORIZE": authorize_url(a.path + (f"?{a.query}" if a.query else ""), client),
            "TOKEN": b.path,
            "CLIENT_ID": urllib.parse.quote(client.client_id, safe=""),
            "REDIRECT_URI": urllib.parse.quote(client.redirect_uri, safe=""),
            "PKCE": str(pkce_file),
        },
        chains=True,
        before=before,
    )


def browser_login(
    browser: Browser, client: CodeClient, authorize: str, token_url: str, alg: str
) -> str:
    """Log `browser` in through the server's pages and exchange the code it gets, checking
    what the scenario counts (a code for the state sent; an access token and an ID token, both
    JWTs signed with `alg`); the session's Cookie header."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    url = authorize_url(authorize, client, code_challenge=challenge, state=state, nonce=state)
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(browser.login(url, client)).query))
    if answer.get("state") != state or "code" not in answer:
        raise BenchError(f"the login's redirect has no code for the state sent: {answer}")
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": client.redirect_uri,
        "client_id": client.client_id,
        "code_verifier": verifier,
    }
    tokens = token_response(token_url, None, form)
    for kind in ("access_token", "id_token"):
        header = str(tokens.get(kind, "")).split(".")[0]
        try:
            signed = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except ValueError as exc:
            raise BenchError(f"the code's token response has no JWT {kind}") from exc
        if signed.get("alg") != alg:
            raise BenchError(f"the code's {kind} is signed with {signed.get('alg')}, not {alg}")
    return browser.cookie_header(authorize)


# --------------------------------------------------------------------------- own measures


def refresh(t: Target, row: Row) -> None:
    """The chains, plus the change in any `*reuse*` series of /metrics (the target is 0)."""
    load = refresh_chains(t)
    before = metric_sum(t.base, "reuse")
    drive(load, t.opts, row, p80=t.p80)
    after = metric_sum(t.base, "reuse")
    row.extra["reuse_detections"] = None if after is None else after - (before or 0.0)
    if after is None:
        row.extra["reuse_note"] = "no *reuse* series in /metrics"


def verify_in_process(t: Target, row: Row) -> None:
    """issuer.verify in a process of its own on the load CPU, verifying 50 cached tokens."""
    tokens = [cc_access_token(t) for _ in range(50)]
    opts = t.opts
    f = t.tmp / f"verify-{t.alg}.txt"
    f.write_text("\n".join(tokens) + "\n")
    cp = run(
        [
            "taskset",
            "-c",
            opts.load_cpu,
            opts.python,
            "-m",
            "bench.rates",
            "verify",
            t.base,
            AUDIENCE,
            t.alg,
            str(f),
            str(opts.secs),
        ],
        timeout=opts.secs + 120,
        cwd=REPO,
    )
    try:
        res = json.loads(cp.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise BenchError(f"bench.rates verify printed no result: {cp.stderr[-400:]}") from exc
    if "unavailable" in res:
        raise Unavailable(res["unavailable"])
    if "failed" in res:
        raise BenchError(res["failed"])
    row.rps, row.p50_ms, row.p99_ms = res["rate"], res.get("p50_ms"), res.get("p99_ms")
    row.errors, row.requests = res["errors"], res["n"]
    row.note = f"in-process issuer.verify ({res['mode']}) on CPU {opts.load_cpu}"
    if res.get("first_error"):
        row.note += f"; first error: {res['first_error']}"
    row.extra["jwks_fetches"] = res.get("jwks_fetches")


# --------------------------------------------------------------------------- the table

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("jwks", Cost(), with_wrk(jwks), on_peer=True),
    Scenario("jwks304", Cost(), with_wrk(jwks_not_modified)),
    Scenario("client_credentials", Cost(signs=1), with_wrk(client_credentials), on_peer=True),
    # An opaque refresh token: the one signature is the new access token (was 2 signs + 1 verify).
    Scenario("refresh", Cost(signs=1), refresh),
    Scenario("password", Cost(argon2=1, signs=1), with_wrk(password)),
    # One completed login from a present session: the access token and the ID token.
    Scenario("code", Cost(signs=2), with_wrk(code_flow), on_peer=True),
    Scenario("introspect", Cost(verifies=1), with_wrk(introspect)),
    Scenario("userinfo", Cost(verifies=1), with_wrk(userinfo)),
    Scenario(
        "verify",
        Cost(verifies=1),
        verify_in_process,
        on_peer=True,
        peer_label="verify peer-tokens",
    ),
)
BY_NAME = {sc.name: sc for sc in SCENARIOS}

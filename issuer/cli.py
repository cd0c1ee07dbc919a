"""`issuer` command line: migrate | serve | users | clients | keys.

The steps themselves live in `issuer.accounts` and `issuer.keyring.rotation`, shared with
the admin API; this module parses, calls and prints.

Every failure prints one line `issuer: error: …` and exits non-zero; no stack traces.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from issuer.jose.algs import SIGNING_ALGS
from issuer.oauth.id_tokens import DEFAULT_ID_TOKEN_ALG
from issuer.settings import ConfigError, Settings

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Settings], int]


class CommandError(Exception):
    """A failure the user can act on; printed as one line."""


# Top-level modules of the `server` extra: the bare distribution is the verifier only.
_SERVER_MODULES = frozenset(
    {
        "aiosqlite",
        "alembic",
        "argon2",
        "asyncpg",
        "jinja2",
        "litestar",
        "msgspec",
        "prometheus_client",
        "sqlalchemy",
        "uvicorn",
    }
)


def _missing_extra(exc: ModuleNotFoundError) -> CommandError | None:
    """A module of the server extra is missing: say which extra to install, in one line."""
    module = (exc.name or "").partition(".")[0]
    if module not in _SERVER_MODULES:
        return None
    return CommandError(
        f"this command needs the issuer's [server] extra (no module {module!r}): "
        "pip install '<the issuer wheel or checkout>[server]'"
    )


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run(coro: Awaitable[int]) -> int:
    async def wrapper() -> int:
        return await coro

    return asyncio.run(wrapper())


def _database_error(exc: Exception) -> CommandError:
    """Describe a database failure in one line, without credentials or a trace."""
    from issuer.store.database import unavailable_reason

    text = unavailable_reason(exc)
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return CommandError(f"the database has no schema yet ({text}): run `issuer migrate`")
    return CommandError(f"database unavailable: {text}")


def _existing_database(settings: Settings, *, create_dir: bool | None = None) -> str:
    """Refuse an SQLite file that is not there, and say which database is used.

    `create_dir` None: the file must exist (every command but `migrate` and `serve`: opening
    it would leave an empty issuer.db in whatever directory the command ran from). False or
    True: `migrate` creates the file, but not a missing directory unless told to.
    """
    from issuer.store.database import describe_database, sqlite_path

    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        if create_dir is None:
            raise CommandError(
                f"no SQLite database at {path}: run `issuer migrate` there first, "
                "or set ISSUER_DATABASE_URL"
            )
        if not path.parent.is_dir():
            if not create_dir:
                raise CommandError(
                    f"the directory of the SQLite database {path} does not exist: "
                    "create it, or pass --create-db-dir"
                )
            path.parent.mkdir(parents=True)
    return describe_database(settings.database_url)


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from issuer.store.database import Database

    _existing_database(settings)
    database = Database(settings.database_url, pool_size=1, pooling=settings.database_pooling)
    try:
        async with database.session() as session:
            return await work(session)
    except BrokenPipeError:
        raise  # the reader of our output went away (`| head`): not a database failure
    except (DBAPIError, InterfaceError, OSError) as exc:
        raise _database_error(exc) from None
    finally:
        await database.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from issuer.store.migrate import upgrade

    database = _existing_database(settings, create_dir=args.create_db_dir)
    try:
        upgrade(settings.database_url, pooling=settings.database_pooling)
    except (DBAPIError, InterfaceError, OSError) as exc:
        raise _database_error(exc) from None
    print(f"database is at the newest revision: {database}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from issuer.keyring.kek import load_kek

    if args.no_migrate:
        # Migrated once beforehand (a container's one-shot `issuer migrate`).
        print(f"not migrating (--no-migrate): {_existing_database(settings)}")
    else:
        cmd_migrate(args, settings)  # prints the database it migrated; each worker logs it too
    kek = load_kek(settings)  # once here, so that workers never race to create it
    _run(_with_database(settings, lambda database: _open_keys(database, settings, kek)))
    uvicorn.run("issuer.app:create_app_from_env", **uvicorn_options(args, settings))
    return 0


def uvicorn_options(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """How `serve` runs uvicorn: X-Forwarded-* believed only from ISSUER_TRUSTED_PROXIES
    (uvicorn would otherwise trust 127.0.0.1 or FORWARDED_ALLOW_IPS on its own)."""
    from issuer.logs import logging_config

    trusted = list(settings.trusted_proxies)
    return {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": "info",
        "log_config": logging_config(),  # one JSON object per line, in every worker
        "access_log": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "server_header": False,
        # SIGTERM waits this long for in-flight requests, then cancels them: a stalled
        # client cannot keep the process alive.
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.accounts.users import AccountError, create_user
    from issuer.clock import utcnow

    if not args.password_stdin:
        raise CommandError("give the password on standard input with --password-stdin")
    password = sys.stdin.read().rstrip("\r\n")

    async def work(session: Any) -> int:
        try:
            user = await create_user(
                session,
                email=args.email,
                password=password,
                roles=args.role,
                now=utcnow(),
                actor=_actor(),
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        if args.json:
            print(json.dumps({"id": user.id, "email": user.email, "roles": user.roles}))
        else:
            print(f"created user {user.email} ({user.id}) roles: {', '.join(user.roles) or '-'}")
        return 0

    return _run(_with_session(settings, work))


def cmd_users_change(args: argparse.Namespace, settings: Settings) -> int:
    """`users disable|enable|revoke-sessions USER`: the admin API's steps, from the shell."""
    from issuer.accounts import users as accounts
    from issuer.clock import utcnow

    async def work(database: Any) -> int:
        try:
            user_id = await accounts.find_user_id(database, args.user)
            now, actor = utcnow(), _actor()
            if args.users_command == "enable":
                user = await accounts.enable_user(database, user_id, now=now, actor=actor)
                ended = 0
            else:
                step = {
                    "disable": accounts.disable_user,
                    "revoke-sessions": accounts.revoke_sessions,
                }[args.users_command]
                change = await step(database, user_id, now=now, actor=actor)
                user, ended = change.user, change.sessions_revoked
        except (accounts.AccountError, accounts.UnknownAccount) as exc:
            raise CommandError(str(exc)) from None
        if args.json:
            print(
                json.dumps(
                    {
                        "id": user.id,
                        "email": user.email,
                        "disabled": user.disabled,
                        "sessions_revoked": ended,
                    }
                )
            )
        else:
            state = "disabled" if user.disabled else "enabled"
            print(f"user {user.email} ({user.id}) is {state}; {ended} sessions revoked")
        return 0

    return _run(_with_database(settings, work))


def cmd_users_consents_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """`users consents revoke USER [--client ID]`: the consent page asks again."""
    from issuer.accounts import users as accounts
    from issuer.clock import utcnow

    async def work(database: Any) -> int:
        try:
            user_id = await accounts.find_user_id(database, args.user)
            forgotten = await accounts.revoke_consents(
                database, user_id, client_id=args.client, now=utcnow(), actor=_actor()
            )
        except (accounts.AccountError, accounts.UnknownAccount) as exc:
            raise CommandError(str(exc)) from None
        if args.json:
            print(
                json.dumps({"id": user_id, "client_id": args.client, "consents_revoked": forgotten})
            )
        else:
            print(f"user {args.user} ({user_id}): {forgotten} consents revoked")
        return 0

    return _run(_with_database(settings, work))


def cmd_clients_create(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.accounts.clients import create_client
    from issuer.accounts.users import AccountError
    from issuer.clock import utcnow

    async def work(session: Any) -> int:
        try:
            new = await create_client(
                session,
                client_id=args.client_id,
                grant_types=args.grant_type,
                scopes=args.scope,
                audiences=args.audience,
                default_audience=settings.url,
                public=args.public,
                alg=args.alg,
                access_token_ttl=args.access_token_ttl,
                refresh_token_ttl=args.refresh_token_ttl,
                introspect_any=args.introspect_any,
                name=args.name,
                redirect_uris=args.redirect_uri,
                post_logout_redirect_uris=args.post_logout_redirect_uri,
                consent_required=args.consent,
                id_token_alg=args.id_token_alg,
                now=utcnow(),
                actor=_actor(),
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        if args.json:
            print(json.dumps({"client_id": new.client.client_id, "client_secret": new.secret}))
        elif new.secret is None:
            print(f"created public client {new.client.client_id}")
        else:
            print(f"created client {new.client.client_id}")
            print(f"client_secret: {new.secret}")
            print("(the secret is shown only this once)")
        return 0

    return _run(_with_session(settings, work))


def _client_view(client: Any) -> dict[str, Any]:
    """A client as the CLI shows it: never its secret digests."""
    return {
        "client_id": client.client_id,
        "public": client.public,
        "grant_types": list(client.grant_types),
        "scopes": list(client.scopes),
        "audiences": list(client.audiences),
        "alg": client.alg,
        "access_token_ttl": client.access_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "disabled": client.disabled,
        "created_at": _when(client.created_at),
        "rotation_overlap_until": _when(client.previous_secret_expires_at),
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "consent_required": client.consent_required,
        "id_token_alg": client.id_token_alg,
    }


def _print_client(view: dict[str, Any]) -> None:
    for name, value in view.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{name}: {'-' if shown is None or shown == '' else shown}")


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.store import clients

    async def work(session: Any) -> int:
        rows = await clients.listing(session, limit=args.limit, offset=args.offset)
        views = [_client_view(row) for row in rows]
        if args.json:
            print(json.dumps(views, indent=2))
            return 0
        for view in views:
            state = "disabled" if view["disabled"] else "enabled"
            kind = "public" if view["public"] else "confidential"
            grants = ",".join(view["grant_types"])
            print(f"{view['client_id']}  {kind}  {state}  {grants}")
        return 0

    return _run(_with_session(settings, work))


def cmd_clients_change(args: argparse.Namespace, settings: Settings) -> int:
    """`clients show|update|disable|enable|rotate-secret|delete CLIENT_ID`: the admin API's
    steps, from the shell. A running issuer sees the change within its client cache's few
    seconds."""
    from issuer.accounts import clients as accounts
    from issuer.accounts.users import AccountError, UnknownAccount
    from issuer.clock import utcnow

    async def work(database: Any) -> int:
        now, actor, command = utcnow(), _actor(), args.clients_command
        extra: dict[str, Any] = {}
        try:
            if command == "show":
                client = await accounts.get_client(database, args.client_id)
            elif command == "update":
                changes = {
                    name: value
                    for name, value in (
                        ("grant_types", args.grant_type),
                        ("scopes", args.scope),
                        ("audiences", args.audience),
                        ("alg", args.alg),
                        ("access_token_ttl", args.access_token_ttl),
                        ("refresh_token_ttl", args.refresh_token_ttl),
                        ("name", args.name),
                        ("redirect_uris", args.redirect_uri),
                        ("post_logout_redirect_uris", args.post_logout_redirect_uri),
                        ("consent_required", args.consent),
                        ("id_token_alg", args.id_token_alg),
                    )
                    if value is not None
                }
                if args.no_scope:
                    changes["scopes"] = []
                if args.no_post_logout_redirect_uri:
                    changes["post_logout_redirect_uris"] = []
                if not changes:
                    raise CommandError("nothing to change (see issuer clients update --help)")
                client = await accounts.update_client(
                    database, args.client_id, changes, now=now, actor=actor
                )
            elif command == "disable":
                done = await accounts.disable_client(database, args.client_id, now=now, actor=actor)
                client, extra = done.client, {"sessions_revoked": done.sessions_revoked}
            elif command == "enable":
                client = await accounts.enable_client(
                    database, args.client_id, now=now, actor=actor
                )
            elif command == "rotate-secret":
                overlap = args.overlap
                new = await accounts.rotate_secret(
                    database,
                    args.client_id,
                    overlap_seconds=(
                        settings.client_secret_overlap_seconds if overlap is None else overlap
                    ),
                    now=now,
                    actor=actor,
                )
                client, extra = new.client, {"client_secret": new.secret}
            else:  # delete
                ended = await accounts.delete_client(
                    database, args.client_id, force=args.force, now=now, actor=actor
                )
                if args.json:
                    print(json.dumps({"client_id": args.client_id, "sessions_revoked": ended}))
                else:
                    print(f"deleted client {args.client_id}; {ended} sessions revoked")
                return 0
        except (AccountError, UnknownAccount) as exc:
            raise CommandError(str(exc)) from None
        view = {**_client_view(client), **extra}
        if args.json:
            print(json.dumps(view, indent=2))
            return 0
        _print_client(view)
        if "client_secret" in extra:
            print("(the secret is shown only this once)")
        return 0

    return _run(_with_database(settings, work))


async def _with_database(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from issuer.keyring.material import KeyDecryptionError
    from issuer.keyring.rotation import KeyOperationError
    from issuer.store.database import Database

    _existing_database(settings)
    database = Database(settings.database_url, pool_size=1, pooling=settings.database_pooling)
    try:
        return await work(database)
    except (KeyDecryptionError, KeyOperationError) as exc:
        raise CommandError(str(exc)) from None
    except BrokenPipeError:
        raise  # the reader of our output went away (`| head`): not a database failure
    except (DBAPIError, InterfaceError, OSError) as exc:
        raise _database_error(exc) from None
    finally:
        await database.dispose()


async def _open_keys(database: Any, settings: Settings, kek: bytes) -> int:
    """Decrypt every stored key that may be used: a wrong KEK stops here, in one line."""
    from issuer.clock import utcnow
    from issuer.keyring.lifecycle import load_ring

    async with database.session() as session:
        await load_ring(session, settings=settings, kek=kek, now=utcnow())
    return 0


def _when(value: Any) -> str | None:
    return None if value is None else str(value.isoformat(timespec="seconds"))


# `keys list` order: what signs, what will sign, what still verifies, what is dead.
_LISTING_ORDER = ("active", "next", "retired", "revoked")


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """Public data only (kids, algs, states, times): no key-encryption key needed."""
    from issuer.store import signing_keys

    async def work(database: Any) -> int:
        async with database.session() as session:
            rows = await signing_keys.all_keys(session)
        # By state, then newest first (the rows come oldest first; the sort is stable).
        rows = sorted(reversed(rows), key=lambda row: _LISTING_ORDER.index(row.state))
        listed = [
            {
                "kid": row.kid,
                "alg": row.alg,
                "state": row.state,
                "created_at": _when(row.created_at),
                "published_at": _when(row.published_at),
                "activated_at": _when(row.activated_at),
                "retired_at": _when(row.retired_at),
                "unpublish_after": _when(row.unpublish_after),
                "revoked_at": _when(row.revoked_at),
            }
            for row in rows
        ]
        if args.json:
            print(json.dumps(listed, indent=2))
            return 0
        columns = ("kid", "alg", "state", "created_at", "activated_at", "retired_at", "revoked_at")
        widths = (43, 6, 7, 25, 25, 25, 25)
        print(
            "  ".join(
                f"{name:<{width}}" for name, width in zip(columns, widths, strict=True)
            ).rstrip()
        )
        for key in listed:
            cells = [
                f"{key[name] or '-':<{width}}" for name, width in zip(columns, widths, strict=True)
            ]
            note = f"unpublish_after={key['unpublish_after']}" if key["unpublish_after"] else ""
            print("  ".join([*cells, note]).rstrip())
        return 0

    return _run(_with_database(settings, work))


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.clock import utcnow
    from issuer.keyring.kek import load_kek
    from issuer.keyring.rotation import RotationResult, rotate

    algs = [args.alg] if args.alg else list(settings.signing_algs)
    if args.alg and args.alg not in settings.signing_algs:
        raise CommandError(f"alg {args.alg} is not configured (ISSUER_DEFAULT_ALG and keys)")
    kek = load_kek(settings, create=False)

    async def work(database: Any) -> int:
        await _open_keys(database, settings, kek)
        refused = []
        for alg in algs:
            result = await rotate(
                database,
                settings=settings,
                kek=kek,
                alg=alg,
                force=args.force,
                now=utcnow(),
                actor=_actor(),
            )
            too_early = result.result is RotationResult.TOO_EARLY
            print(result.summary + (" (or --force)" if too_early else ""))
            if not result.rotated:
                refused.append(alg)
        if refused:
            raise CommandError(f"not rotated: {', '.join(refused)}")
        print(
            "running issuers serve the new keys within "
            f"ISSUER_RING_REFRESH_SECONDS ({settings.ring_refresh_seconds:g}s)"
        )
        return 0

    return _run(_with_database(settings, work))


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.clock import utcnow
    from issuer.keyring.kek import load_kek
    from issuer.keyring.rotation import revoke

    kek = load_kek(settings, create=False)

    async def work(database: Any) -> int:
        await _open_keys(database, settings, kek)
        result = await revoke(
            database, settings=settings, kek=kek, kid=args.kid, now=utcnow(), actor=_actor()
        )
        print(result.summary)
        return 0

    return _run(_with_database(settings, work))


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer within [low, high] (what the database can store)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="issuer", description="OIDC-style token issuer")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    migrate = commands.add_parser("migrate", help="apply database migrations (idempotent)")
    serve = commands.add_parser("serve", help="migrate, then serve HTTP")
    for creates in (migrate, serve):
        creates.add_argument(
            "--create-db-dir",
            action="store_true",
            help="create the directory of an SQLite ISSUER_DATABASE_URL if it is missing",
        )
    migrate.set_defaults(handler=cmd_migrate)
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate first (when `issuer migrate` ran once before, as in compose.yaml)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_bounded(1, 65535), default=8000)
    serve.add_argument("--workers", type=_bounded(1, 256), default=1)
    serve.set_defaults(handler=cmd_serve)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True, parser_class=_Parser
    )
    create_user = users.add_parser("create", help="create a user")
    create_user.add_argument("email")
    create_user.add_argument("--role", action="append", default=[])
    create_user.add_argument("--password-stdin", action="store_true")
    create_user.add_argument("--json", action="store_true")
    create_user.set_defaults(handler=cmd_users_create)
    for name, text in (
        ("disable", "refuse a user's logins and end all their sessions"),
        ("enable", "accept a disabled user's logins again"),
        ("revoke-sessions", "end all of a user's sessions (logout everywhere)"),
    ):
        change = users.add_parser(name, help=text)
        change.add_argument("user", metavar="USER", help="e-mail address or user id")
        change.add_argument("--json", action="store_true")
        change.set_defaults(handler=cmd_users_change)
    user_consents = users.add_parser("consents", help="what users consented to").add_subparsers(
        dest="consents_command", required=True, parser_class=_Parser
    )
    revoke_consents = user_consents.add_parser(
        "revoke", help="forget a user's consents (to one client, or all): asked again"
    )
    revoke_consents.add_argument("user", metavar="USER", help="e-mail address or user id")
    revoke_consents.add_argument("--client", metavar="CLIENT_ID", help="only this client")
    revoke_consents.add_argument("--json", action="store_true")
    revoke_consents.set_defaults(handler=cmd_users_consents_revoke)

    clients = commands.add_parser("clients", help="manage clients").add_subparsers(
        dest="clients_command", required=True, parser_class=_Parser
    )
    create_client = clients.add_parser("create", help="register a client; prints its secret once")
    create_client.add_argument("client_id")
    create_client.add_argument("--grant-type", action="append", default=[])
    create_client.add_argument("--audience", action="append", default=[])
    create_client.add_argument("--scope", action="append", default=[])
    create_client.add_argument("--public", action="store_true")
    create_client.add_argument("--alg", choices=SIGNING_ALGS)
    create_client.add_argument("--access-token-ttl", type=int)
    create_client.add_argument("--refresh-token-ttl", type=int)
    create_client.add_argument(
        "--introspect-any",
        action="store_true",
        help="may introspect access tokens of any audience (a gateway)",
    )
    create_client.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="where codes are sent (repeat; exact match; https, loopback http or app scheme)",
    )
    create_client.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], metavar="URI"
    )
    create_client.add_argument(
        "--consent", action="store_true", help="a third-party client: ask the user to consent"
    )
    create_client.add_argument("--id-token-alg", choices=SIGNING_ALGS, default=DEFAULT_ID_TOKEN_ALG)
    create_client.add_argument("--name", help="shown to users on the consent page")
    create_client.add_argument("--json", action="store_true")
    create_client.set_defaults(handler=cmd_clients_create)
    list_clients = clients.add_parser("list", help="registered clients (never their secrets)")
    list_clients.add_argument("--limit", type=_bounded(1, 10_000), default=1000)
    list_clients.add_argument("--offset", type=_bounded(0, 2**63 - 1), default=0)
    list_clients.add_argument("--json", action="store_true")
    list_clients.set_defaults(handler=cmd_clients_list)
    for name, text in (
        ("show", "one client's settings (never its secret)"),
        ("update", "change grant types, scopes, audiences, alg or lifetimes"),
        ("disable", "refuse a client everywhere and end all its sessions"),
        ("enable", "accept a disabled client again"),
        ("rotate-secret", "a new secret, printed once; the old one works for --overlap S"),
        ("delete", "delete a client (refused while it has live sessions, unless --force)"),
    ):
        change_client = clients.add_parser(name, help=text)
        change_client.add_argument("client_id")
        change_client.add_argument("--json", action="store_true")
        change_client.set_defaults(handler=cmd_clients_change)
        if name == "update":
            change_client.add_argument(
                "--grant-type", action="append", help="replaces the list (repeat)"
            )
            change_client.add_argument("--audience", action="append", help="replaces the list")
            change_client.add_argument("--scope", action="append", help="replaces the list")
            change_client.add_argument("--no-scope", action="store_true", help="no scopes")
            change_client.add_argument("--alg", choices=SIGNING_ALGS)
            change_client.add_argument("--access-token-ttl", type=_bounded(1, 2**31 - 1))
            change_client.add_argument("--refresh-token-ttl", type=_bounded(1, 2**31 - 1))
            change_client.add_argument(
                "--redirect-uri", action="append", metavar="URI", help="replaces the list"
            )
            change_client.add_argument(
                "--post-logout-redirect-uri",
                action="append",
                metavar="URI",
                help="replaces the list",
            )
            change_client.add_argument(
                "--no-post-logout-redirect-uri", action="store_true", help="none"
            )
            change_client.add_argument(
                "--consent",
                action=argparse.BooleanOptionalAction,
                help="ask users to consent (--no-consent: do not)",
            )
            change_client.add_argument("--id-token-alg", choices=SIGNING_ALGS)
            change_client.add_argument("--name")
        elif name == "rotate-secret":
            change_client.add_argument(
                "--overlap",
                type=_bounded(0, 2**31 - 1),
                metavar="S",
                help="seconds the old secret keeps working "
                "(default ISSUER_CLIENT_SECRET_OVERLAP_SECONDS)",
            )
        elif name == "delete":
            change_client.add_argument(
                "--force", action="store_true", help="revoke its live sessions and delete anyway"
            )

    keys = commands.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys_command", required=True, parser_class=_Parser
    )
    list_keys = keys.add_parser("list", help="every key with its state and lifecycle times")
    list_keys.add_argument("--json", action="store_true")
    list_keys.set_defaults(handler=cmd_keys_list)
    rotate_keys = keys.add_parser(
        "rotate", help="next → active → retired, new next (every configured alg by default)"
    )
    rotate_keys.add_argument("--alg", choices=SIGNING_ALGS)
    rotate_keys.add_argument(
        "--force",
        action="store_true",
        help="do not wait for the next key to be published long enough (verifiers may fail)",
    )
    rotate_keys.set_defaults(handler=cmd_keys_rotate)
    revoke_key = keys.add_parser("revoke", help="unpublish a key now (compromise)")
    revoke_key.add_argument("kid")
    revoke_key.set_defaults(handler=cmd_keys_revoke)
    return parser


def _kid_is_an_operand(argv: Sequence[str]) -> list[str]:
    """A kid is base64url (RFC 7638) and may start with `-`, which argparse would read as an
    option: `keys revoke -Abc…` means the kid `-Abc…` (as if written `keys revoke -- -Abc…`)."""
    args = list(argv)
    if args[:2] == ["keys", "revoke"] and len(args) == 3:
        if args[2].startswith("-") and args[2] not in ("-h", "--help", "--"):
            args.insert(2, "--")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_kid_is_an_operand(sys.argv[1:] if argv is None else argv))
    try:
        settings = Settings.from_env()
        handler: Command = args.handler
        code = handler(args, settings)
        sys.stdout.flush()  # here, where a closed pipe is still ours to report (quietly)
        return code
    except (ConfigError, CommandError) as exc:
        print(f"issuer: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        missing = _missing_extra(exc)
        if missing is None:
            raise
        print(f"issuer: error: {missing}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `issuer keys list | head -3`: the reader has what it wanted. Quietly, as a command
        # killed by SIGPIPE would; stdout goes to /dev/null so that the exit flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13

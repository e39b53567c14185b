"""What every service is made of, and its life: a FastStream NATS broker run by the FastAPI
app's lifespan, its database, its event stores, its projection runners and reactors, its
background jobs. What it answers operators is in common.operations, its published contract
in common.contracts, retrying what it parked in common.parked.

A service's ``bootstrap.create_app`` builds a :class:`ServiceRuntime`, adds its own routes,
subscribers and projections, and returns ``runtime.app``. Nothing connects until the
lifespan runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

import nats
import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.responses import RedirectResponse
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from nats.js import JetStreamContext
from prometheus_client import Counter
from sqlalchemy import text

from common.accounts import SUBSCRIPTIONS as ACCOUNT_SUBSCRIPTIONS
from common.accounts import AccountBook
from common.audit import AccessRecorder
from common.auth import Directory
from common.consumers import ensure_durables, projection_durable, reactor_config
from common.contracts import contract_routes, declare_published_events
from common.database import Database, once_unlocked
from common.deadletter import (
    DeadLetters,
)
from common.declarations import declaration_routes
from common.events import Event
from common.eventstore import EventStore
from common.limits import BodyLimit, BodyLimits
from common.logging import configure_logging
from common.operations import operations_routes
from common.organisation import Organisation, load_organisation
from common.parked import ParkedRetry
from common.projection import Subscription, Tracker
from common.query_parameters import forbid_unknown_query_parameters
from common.runner import ProjectionRunner, RunnerOptions, replica_id
from common.sessions import COOKIE_PREFIX, SessionSigner
from common.settings import ServiceSettings
from common.signin import signin_routes
from common.streams import declare_streams, observe_streams
from common.subjects import (
    STREAM_SUBJECTS,
    Service,
    Stream,
    audit_prefix,
    declared_streams,
    inbox_prefix,
)
from common.tls import broker_security, nats_tls
from common.vocabulary_api import vocabulary_routes
from common.web import Pages, install_web
from common.web.people import SignInNeeded, people_pages

log = structlog.get_logger(__name__)

S = TypeVar("S", bound=ServiceSettings)

# How long a reactor's fetch on a closed connection waits before failing (see
# ServiceRuntime._let_reactors_yield).
_CLOSED_RETRY_SECONDS: Final = 1.0
# How often each service exports the size and replicas of the streams it declares.
STREAM_WATCH_SECONDS: Final = 30.0

SECURITY_EVENTS: Final = Counter(
    "nats_permission_violations_total", "Permission violations reported by the NATS server"
)


def _own_templates(service: Service) -> Path | None:
    try:
        found = Path(str(resources.files(service.value).joinpath("templates")))
    except ModuleNotFoundError:
        return None
    return found if found.is_dir() else None


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    """A staff page asked for by nobody signed in: the sign-in page, then back here."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    path = str(request.scope["path"]).removeprefix(root)
    wanted = path + (f"?{request.url.query}" if request.url.query else "")
    lang = "&lang=en" if request.query_params.get("lang") == "en" else ""
    return RedirectResponse(
        f"{root}/sign-in?next={quote(wanted, safe='')}{lang}",
        status_code=status.HTTP_303_SEE_OTHER,
    )


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, title: str, version: str = "1") -> None:
        self.settings = settings
        self.service = settings.service
        self.org: Organisation = load_organisation(settings.org_file)
        self.directory = Directory.from_file(settings.users_file)
        self.database = Database(settings.database_url)
        self.subscriptions: list[Subscription] = []
        self.runners: list[ProjectionRunner] = []
        # durable name -> handler, so a parked event can be retried through its reactor
        self.reactors: dict[str, Callable[[Event], Awaitable[None]]] = {}
        self.reactor_streams: dict[str, Stream] = {}
        self.reactor_subjects: dict[str, str] = {}
        self._on_prepare: list[Callable[[], Awaitable[None]]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        #: more reasons not to be sent requests (a read model still being rebuilt), by
        #: component; each answers {} when all is well
        self.readiness_checks: list[Callable[[], dict[str, str]]] = []
        self._js: JetStreamContext | None = None
        self._stopped = False
        self.replica = replica_id()
        password = settings.nats_password.get_secret_value()
        # A plain broker whose life the app's lifespan runs (FastStream's FastAPI router
        # is deprecated, and its documentation routes included an unauthenticated "try it
        # out" POST that published any message through this connection).
        self.broker = NatsBroker(
            settings.nats_servers,
            security=broker_security(settings.nats_user or "", password, settings.nats_tls_ca_file),
            inbox_prefix=inbox_prefix(self.service),
            name=f"{self.service.value}:{self.replica}",
            error_cb=self._nats_error,
            max_reconnect_attempts=-1,
            description=title,
            logger=structlog.get_logger("faststream"),
            # "Received"/"Processed" for every message: debugging detail, not the log's
            # business (each reactor logs what it decided).
            log_level=logging.DEBUG,
        )
        self.contract = AsyncAPI(self.broker, title=title, version=version, description=title)
        # FastAPI's own OpenTelemetry is off: the services' metrics are Prometheus's, and
        # asking the global providers whether it is on cost every request.
        self.app = FastAPI(
            title=title,
            version=version,
            lifespan=self._lifespan,
            telemetry={"tracing": False, "metrics": False, "logs": False},
        )
        self.app.state.runtime = self
        self.app.state.exit_when_connection_lost = False
        self.app.state.directory = self.directory
        self.access = AccessRecorder(self.audit_store, self.service.value)
        # People's accounts: each service projects them and signs its own sessions.
        self.accounts = AccountBook(self.database.sync_engine)
        self.sessions = SessionSigner(
            settings.session_key_bytes,
            idle_seconds=settings.session_idle_minutes * 60.0,
            longest_seconds=settings.session_longest_hours * 3600.0,
        )
        self.app.state.accounts = self.accounts
        self.app.state.sessions = self.sessions
        self.app.state.session_cookie = COOKIE_PREFIX + self.service.value
        self.app.state.secure_cookies = settings.environment != "development"
        # Under its own prefix on a shared host name, a service's session cookie is sent to
        # it alone, not to the services beside it.
        self.app.state.cookie_path = settings.root_path or "/"
        self.project(*ACCOUNT_SUBSCRIPTIONS)
        # Before anything reads a body, authentication included; routes that take more
        # say so with allow_body.
        self.body_limits = BodyLimits(settings.max_body_bytes)
        self.app.add_middleware(BodyLimit, limits=self.body_limits)
        declare_published_events(self.broker, self.service)
        self.every(1.0, self._exit_if_connection_lost, "connection-watch")
        # Sizes against limits and replicas' lag, for the alerts (deploy/monitoring).
        self.every(
            STREAM_WATCH_SECONDS,
            lambda: observe_streams(self.js, declared_streams(self.service)),
            "stream-watch",
        )
        forbid_unknown_query_parameters(self.app)  # before any route is added
        self.app.include_router(operations_routes(self))
        self.app.include_router(contract_routes(self.contract))
        self.app.include_router(vocabulary_routes(self.org))
        self.app.include_router(signin_routes(self))
        self.app.include_router(declaration_routes(self))
        # People's pages: the service's own templates (``<service>/templates``) over the
        # shared ones, the shared static files and security headers, signing in and out.
        self.pages = Pages(
            self.service,
            _own_templates(self.service),
            {s: settings.site_url(s) for s in (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT)},
        )
        install_web(self.app)
        self.app.include_router(people_pages(self))
        self.app.add_exception_handler(SignInNeeded, _to_sign_in)

    # --- composition ---------------------------------------------------------------

    def allow_body(self, path_prefix: str, max_bytes: int) -> None:
        """Accept request bodies up to ``max_bytes`` on ``path_prefix`` and below it (a file
        import), instead of the service's ``max_body_bytes``."""
        self.body_limits.allow(path_prefix, max_bytes)

    def consumers(self) -> set[tuple[str, str]]:
        """(stream, durable name) of every consumer this service makes: what its NATS user
        must be granted, by name (deploy/nats/auth.conf)."""
        found = {(s.value, durable) for durable, s in self.reactor_streams.items()}
        found |= {(s.stream.value, self._projection_durable(s)) for s in self.subscriptions}
        return found

    def _projection_durable(self, sub: Subscription) -> str:
        return projection_durable(self.service, sub.projection.name, sub.stream)

    def project(self, *subscriptions: Subscription) -> None:
        """Feed projections from streams; the live runners start with the service."""
        self.subscriptions.extend(subscriptions)

    def on_prepare(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run before any consumer starts (create tables the handlers need)."""
        self._on_prepare.append(hook)

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run once connected and consuming (background jobs)."""
        self._on_start.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(hook)

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run a background job every ``seconds`` while the service runs (deadlines,
        retention, automatic rules). A failing round is logged; the next one still runs."""

        # Stopping is said twice, by the event and by cancelling: nats-py swallows a
        # cancellation that arrives while it flushes a publish (``_flush_pending`` catches
        # CancelledError), after which a job returns normally and the loop would sleep a
        # whole round before the stop is seen.
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                try:
                    await job()
                except Exception:
                    log.exception("background_job_failed", job=name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), seconds)

        task: asyncio.Task[None] | None = None

        async def start() -> None:
            nonlocal task
            stopping.clear()
            task = asyncio.create_task(loop(), name=name)

        async def stop() -> None:
            if task is not None:
                stopping.set()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        self.on_start(start)
        self.on_stop(stop)

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the service is not connected yet")
        return self._js

    def store(self, stream: Stream) -> EventStore:
        return EventStore(self.js, stream, STREAM_SUBJECTS[stream].removesuffix(".>"))

    def audit_store(self) -> EventStore:
        return EventStore(self.js, Stream.AUDIT, audit_prefix(self.service))

    async def record_access(self, event: Event) -> None:
        """Append an access event (who read what) to the audit stream; returns once it is
        stored. Concurrent reads' records share an append (common.audit)."""
        await self.access.record(event)

    # --- lifecycle -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Streams declared and the reactors' durables checked (on a connection of their
        own, since the subscribers bind to them as the broker starts) and tables created;
        then the broker, projections and jobs; stopped in the reverse order."""
        await self._declare_streams()
        for hook in self._on_prepare:
            await once_unlocked(hook, "prepare the database")
        try:
            await self.broker.start()
            try:
                await self._started(app)
                yield
            finally:
                await self._stopping(app)
                await self.broker.stop()
        finally:
            await self.database.dispose()
            log.info("service_stopped")

    async def _started(self, app: FastAPI) -> None:
        """Once the broker is connected: projections and background jobs."""
        self._js = self.broker.connection.jetstream()
        self._let_reactors_yield()
        await self._start_projections()
        for hook in self._on_start:
            await hook()
        log.info("service_started", replica=self.replica)

    def _let_reactors_yield(self) -> None:
        """FastStream's pull loop catches a closed connection's error and fetches again at
        once; nats-py raises it before awaiting anything, so the loop never yields and the
        whole service (health endpoints included) stops answering. Each reactor's fetch
        waits a moment before that error, so the service can say it is broken."""
        for subscriber in self.broker.subscribers:
            subscription = getattr(subscriber, "subscription", None)
            fetch = getattr(subscription, "fetch", None)
            if fetch is None:
                continue

            async def fetch_or_wait(
                *args: Any, _fetch: Callable[..., Awaitable[Any]] = fetch, **kwargs: Any
            ) -> Any:
                try:
                    return await _fetch(*args, **kwargs)
                except nats.errors.ConnectionClosedError:
                    await asyncio.sleep(_CLOSED_RETRY_SECONDS)
                    raise

            setattr(subscription, "fetch", fetch_or_wait)  # noqa: B010

    async def _exit_if_connection_lost(self) -> None:
        """Under ``serve``: a connection nats-py gave up for good is only mended by a new
        process, so the service stops (its supervisor starts it again)."""
        if self.app.state.exit_when_connection_lost and self.connection_lost():
            log.critical("nats_connection_lost_exiting", service=self.service.value)
            signal.raise_signal(signal.SIGTERM)

    def connection_lost(self) -> bool:
        """Whether the broker's connection closed while the service was not stopping."""
        connection = self.broker.connection if self._js is not None else None
        return connection is not None and connection.is_closed and not self._stopped

    async def _stopping(self, app: FastAPI) -> None:
        """Before the broker stops, so nothing acknowledges on a closed connection."""
        self._stopped = True
        for hook in reversed(self._on_stop):
            await hook()
        await self.access.close()
        for runner in self.runners:
            await runner.stop(release=False)
        for tracker in {id(r.tracker): r.tracker for r in self.runners}.values():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(tracker.release_lease)
        self.runners.clear()
        connection = self.broker._connection
        if connection is not None and connection.is_closed:
            # Nothing to unsubscribe from or drain on a connection nats-py gave up: FastStream
            # would try both, and fail the shutdown.
            for subscriber in self.broker.subscribers:
                if hasattr(subscriber, "subscription"):
                    subscriber.subscription = None
            self.broker._connection = None
        elif connection is not None and connection.is_reconnecting:
            # FastStream drains the connection once its subscribers stopped, and nats-py
            # refuses to drain one that is reconnecting: closing it instead lets a service
            # stop while NATS is down.
            async def close_quietly() -> None:
                with contextlib.suppress(Exception):  # the socket is gone already
                    await connection.close()

            setattr(connection, "drain", close_quietly)  # noqa: B010

    async def _declare_streams(self) -> None:
        password = self.settings.nats_password.get_secret_value()
        nc = await nats.connect(
            self.settings.nats_servers,
            user=self.settings.nats_user if password else None,
            password=password or None,
            inbox_prefix=inbox_prefix(self.service),
            name=f"{self.service.value}:{self.replica}:declare",
            **nats_tls(self.settings.nats_tls_ca_file),
        )
        try:
            js = nc.jetstream()
            await declare_streams(js, declared_streams(self.service), self.settings.stream_replicas)
            # Before FastStream binds: a durable it may not create would otherwise be a bare
            # timeout at startup. Projections' durables are their runners' to check.
            await ensure_durables(
                js,
                [
                    (stream, reactor_config(durable, self.reactor_subjects[durable]))
                    for durable, stream in self.reactor_streams.items()
                ],
            )
        finally:
            await nc.close()

    async def _start_projections(self) -> None:
        dead_letters = DeadLetters(self.js, self.service)
        options = RunnerOptions(batch_size=self.settings.projection_batch_size)
        trackers: dict[str, Tracker] = {}
        for sub in self.subscriptions:
            tracker = trackers.setdefault(
                sub.projection.name,
                Tracker(
                    self.database.sync_engine,
                    sub.projection,
                    owner=self.replica,
                    lease_seconds=options.lease_seconds,
                ),
            )
            runner = ProjectionRunner(
                self.js,
                tracker,
                sub.stream,
                durable=self._projection_durable(sub),
                dead_letters=dead_letters,
                filter_subject=sub.filter_subject,
                options=options,
            )
            await runner.start()
            self.runners.append(runner)

    async def _nats_error(self, error: Exception) -> None:
        if "permissions violation" in str(error).lower():
            SECURITY_EVENTS.inc()
            log.warning("nats_permission_violation", security_event=True, error=str(error))
        else:
            log.warning("nats_error", error=repr(error))

    async def retry_parked(self, sequence: int) -> dict[str, str]:
        """Apply a parked event after its cause was fixed (common.parked)."""
        return await ParkedRetry(self.js, self.service, self.runners, self.reactors).retry(sequence)

    def projection_roles(self) -> dict[str, str]:
        """Each projection consumer (by durable) and whether this replica applies it
        ("active", holding the lease) or stands by ("standby")."""
        return {runner.durable: "active" if runner.active else "standby" for runner in self.runners}

    async def readiness(self) -> dict[str, str]:
        """What is not ready, by component (empty when all is well)."""
        problems: dict[str, str] = {}
        connection = self.broker.connection if self._js is not None else None
        if connection is None or not connection.is_connected:
            problems["nats"] = "not connected"
        for runner in self.runners:
            problem = runner.health()
            if problem is not None:
                problems[f"projection:{runner.durable}"] = problem
        try:
            async with asyncio.timeout(2):
                async with self.database.async_engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:
            problems["database"] = type(exc).__name__
        for check in self.readiness_checks:
            problems.update(check())
        return problems


#: Where a worker process finds what to build (see :func:`serve`): the app factory and the
#: settings class, each as ``module:name``.
_FACTORY_VARIABLE: Final = "LEADS_SERVE_FACTORY"
_SETTINGS_VARIABLE: Final = "LEADS_SERVE_SETTINGS"
_PARENT_VARIABLE: Final = "LEADS_SERVE_PARENT"


def serve(
    app: FastAPI | Callable[[S], FastAPI],
    settings: S,
) -> None:
    """Run a service under uvicorn, logging through structlog. Client addresses are
    never logged: public reporters' connections must leave no trace.

    Given its app factory, a service runs ``http_workers`` processes on the one port (the
    kernel hands each connection to one of them): each builds the app from the same
    settings and is a whole replica, as another host's would be, so nothing a request
    relies on is kept in one process alone (throttling and sessions are in the database
    and the streams). One process serves when given a built app."""
    import uvicorn

    from common.heap import enable_for_this_process

    enable_for_this_process()
    configure_logging(settings.service.value, settings.log_level)
    options: dict[str, Any] = {
        "host": settings.http_host,
        "port": settings.http_port,
        "root_path": settings.root_path,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
    }
    if settings.http_workers > 1:
        if isinstance(app, FastAPI):
            raise ValueError("several HTTP workers need the service's app factory, not an app")
        os.environ[_FACTORY_VARIABLE] = f"{app.__module__}:{app.__qualname__}"
        os.environ[_SETTINGS_VARIABLE] = (
            f"{type(settings).__module__}:{type(settings).__qualname__}"
        )
        os.environ[_PARENT_VARIABLE] = str(os.getpid())
        uvicorn.run(
            f"{__name__}:{worker_app.__name__}",
            factory=True,
            workers=settings.http_workers,
            **options,
        )
        return
    built = app if isinstance(app, FastAPI) else app(settings)
    built.state.exit_when_connection_lost = True
    uvicorn.run(built, **options)


def worker_app() -> FastAPI:
    """The app of one HTTP worker process (see :func:`serve`), built as its parent was told."""
    _end_with_parent()
    settings_type = _named(os.environ[_SETTINGS_VARIABLE])
    settings = settings_type()
    configure_logging(settings.service.value, settings.log_level)
    factory = _named(os.environ[_FACTORY_VARIABLE])
    app: FastAPI = factory(settings)
    app.state.exit_when_connection_lost = True
    return app


def _named(where: str) -> Any:
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


def _end_with_parent() -> None:
    """A worker whose parent was killed outright (no chance to stop its workers) ends too,
    rather than serve on alone with the port (Linux; elsewhere the parent's stop must)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if str(os.getppid()) != os.environ.get(_PARENT_VARIABLE):  # gone before the line above
        signal.raise_signal(signal.SIGTERM)

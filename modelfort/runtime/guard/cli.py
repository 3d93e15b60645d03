"""`modelfort guard --config PATH` (or `python -m modelfort.runtime.guard`): load the config, then serve.

The config is loaded and every key checked before the port is opened: a bad config prints each bad key with what
is allowed and exits 2, so a pod with a broken guard never becomes ready. stdout carries telemetry only (one JSON
line per request); everything for humans goes to stderr.

In `apigateway-mtls` mode the guard serves TLS with the configured certificate and key and requires a client
certificate from `caBundle` (`ssl.CERT_REQUIRED`); the h11 protocol is `identity.TlsPeerH11Protocol`, which hands
the verified peer certificate to the app. In `jwt` mode it serves plain HTTP behind the load balancer's TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "guard",
        help="run the inference guard: a reverse proxy in front of the model server",
        description="Serve the OpenAI-compatible inference API in front of a model server on 127.0.0.1, applying "
                    "identity, input controls, guardrails and output controls, with one telemetry line per request "
                    "on stdout.",
    )
    _arguments(parser)
    parser.set_defaults(handler=handle)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH",
                        help="guard config (JSON); defaults to env MODELFORT_GUARD_CONFIG")


def handle(args: argparse.Namespace) -> int:
    from modelfort.runtime.guard.config import GuardConfigError, load_config

    try:
        config = load_config(args.config)
    except GuardConfigError as exc:
        print(f"modelfort guard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        server = build_server(config)
        health = build_health_server(config, server.config)
    except (OSError, ValueError) as exc:
        print(f"modelfort guard: cannot start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if health is None:
        server.run()
    else:
        asyncio.run(serve_with_health(server, health))
    return 0


def build_health_server(config: Any, main_config: Any) -> Any:
    """The plain-HTTP health listener on `listen.healthPort`, or None. It shares the main app's Guard, so /readyz
    reports the same upstream check; it leaves signals to the main server and stops when that one stops."""
    if config.health_port is None:
        return None
    import uvicorn

    from modelfort.runtime.guard.app import build_health_app

    main_config.load()  # builds the main app, whose Guard the health app reads
    app = main_config.loaded_app
    while not hasattr(app, "state") and hasattr(app, "app"):  # uvicorn wraps the app in its middleware
        app = app.app

    class HealthServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # the main server owns SIGTERM/SIGINT
            yield

    return HealthServer(uvicorn.Config(build_health_app(app), host=config.listen_host, port=config.health_port,
                                       lifespan="off", access_log=False, log_level="warning", server_header=False,
                                       http="h11"))


async def serve_with_health(server: Any, health: Any) -> None:
    health_task = asyncio.create_task(health.serve())
    try:
        await server.serve()
    finally:
        health.should_exit = True
        await health_task


def http_protocol() -> str:
    """httptools (a C parser, pinned) for plain HTTP when it is installed, else h11. The mTLS listener always uses
    h11: its protocol class (`identity.TlsPeerH11Protocol`) extends uvicorn's h11 implementation."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def uvicorn_config(config: Any, app: Any = None, **overrides: Any) -> Any:
    """The uvicorn settings the guard runs with (TLS and client certificates in mTLS mode)."""
    import uvicorn

    from modelfort.runtime.guard.app import build_app
    from modelfort.runtime.guard.identity import TlsPeerH11Protocol

    limits = config.limits
    options: dict[str, Any] = {
        "host": config.listen_host, "port": config.listen_port, "lifespan": "on", "access_log": False,
        # Longer than the load balancer's or gateway's idle timeout (60 s on ALB and API Gateway VPC links), so
        # the guard never closes a kept-alive connection just as the balancer reuses it (a reset for the caller).
        "log_level": "warning", "timeout_keep_alive": 75, "server_header": False,
        # Connections beyond admission's capacity get uvicorn's own 503 before the app reads anything (RC-11).
        "limit_concurrency": limits.max_concurrent + limits.queue_size + 64,
        "http": http_protocol(),
    }
    mtls = config.identity.mtls if config.identity.mode == "apigateway-mtls" else None
    if mtls is not None:
        options.update(ssl_certfile=mtls.cert_file, ssl_keyfile=mtls.key_file, ssl_ca_certs=mtls.ca_bundle,
                       ssl_cert_reqs=ssl.CERT_REQUIRED, http=TlsPeerH11Protocol)
    options.update(overrides)
    return uvicorn.Config(app if app is not None else build_app(config), **options)


def build_server(config: Any, app: Any = None, **overrides: Any) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn_config(config, app, **overrides))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelfort.runtime.guard", description="Run the inference guard.")
    _arguments(parser)
    return handle(parser.parse_args(argv))

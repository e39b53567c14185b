"""TLS for the suite's own connections: to NATS (services, leadctl, provisioning) and to
PostgreSQL (the asyncio driver).

Every client verifies the server's certificate against one private CA (deploy/tls/), and
speaks TLS 1.2 or newer. Clients present no certificate of their own: NATS knows them by
user and password, PostgreSQL by role and password, and TLS keeps both out of the network's
sight.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Final

from faststream.security import BaseSecurity, SASLPlaintext
from sqlalchemy.engine import URL, make_url

MINIMUM_VERSION: Final = ssl.TLSVersion.TLSv1_2

#: libpq's sslmode values that check the server's certificate; anything less lets whoever
#: sits on the path read the database password (sslmode=require does not check who answers)
VERIFYING_SSLMODES: Final = frozenset({"verify-ca", "verify-full"})

# libpq's TLS parameters: psycopg reads them from the URL, asyncpg takes none of them as
# keyword arguments (SQLAlchemy hands every query parameter to asyncpg.connect).
_LIBPQ_SSL_PARAMETERS: Final = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword")


def client_context(ca_file: str | Path, setting: str = "nats_tls_ca_file") -> ssl.SSLContext:
    """A client context that trusts only the CA in ``ca_file`` and checks the host name.

    ``setting`` names what the operator set, for the error when the file is wrong."""
    path = Path(ca_file)
    if not path.is_file():
        raise ValueError(f"{setting}: no CA certificate file at {path}")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{setting}: {path} is not a readable PEM CA certificate") from exc
    context.minimum_version = MINIMUM_VERSION
    return context


def nats_tls(ca_file: str | Path | None) -> dict[str, Any]:
    """The keyword arguments that make ``nats.connect`` use TLS (none without a CA file).

    nats-py checks each server's certificate against the host name of the URL it dials, so
    the cluster does not advertise its nodes' addresses (deploy/nats/cluster-node.conf):
    clients dial only the names they were given, which the certificates carry."""
    return {} if ca_file is None else {"tls": client_context(ca_file)}


def broker_security(user: str, password: str, ca_file: str | Path | None) -> BaseSecurity | None:
    """The same for FastStream's broker, which takes TLS and credentials as one object."""
    context = None if ca_file is None else client_context(ca_file)
    if password:
        return SASLPlaintext(username=user, password=password, ssl_context=context)
    return None if context is None else BaseSecurity(ssl_context=context)


def sslmode(database_url: str | URL) -> str | None:
    """The URL's libpq sslmode, if it names one."""
    value = make_url(database_url).query.get("sslmode")
    return value if isinstance(value, str) or value is None else value[-1]


def asyncpg_ssl(database_url: str | URL) -> tuple[URL, dict[str, Any]]:
    """A PostgreSQL URL written for libpq (``?sslmode=verify-full&sslrootcert=ca.crt``), as
    asyncpg needs it: the URL without libpq's TLS parameters, and ``connect_args`` holding
    the equivalent ``ssl`` argument. The same URL thus serves psycopg and asyncpg alike."""
    url = make_url(database_url)
    query = url.query
    mode = sslmode(url)
    root = query.get("sslrootcert")
    stripped = url.difference_update_query(_LIBPQ_SSL_PARAMETERS)
    if mode is None:
        return stripped, {}
    if mode in VERIFYING_SSLMODES:
        if not isinstance(root, str):
            raise ValueError(f"database_url: sslmode={mode} needs one sslrootcert (the CA file)")
        context = client_context(root, setting="database_url sslrootcert")
        # verify-ca: the certificate must come from the CA, whatever name it carries.
        context.check_hostname = mode == "verify-full"
        cert, key = query.get("sslcert"), query.get("sslkey")
        if isinstance(cert, str):
            context.load_cert_chain(cert, key if isinstance(key, str) else None)
        return stripped, {"ssl": context}
    # disable, allow, prefer, require: asyncpg understands libpq's names for these.
    return stripped, {"ssl": mode}

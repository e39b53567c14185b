"""Create every stream and every durable consumer as the NATS administrator, before any
service starts.

Services may create a missing stream only if they may also read it, may never update one,
and may not create, change or delete consumers at all (see deploy/nats/auth.conf and
common.consumers), so the configuration is chosen here, once, by the operator:
``python -m leadctl.provision`` with LEADS_NATS_URL, LEADS_NATS_USER (admin),
LEADS_NATS_PASSWORD, LEADS_STREAM_REPLICAS (1 embedded, 3 deployed) and, for a ``tls://``
cluster, LEADS_NATS_TLS_CA_FILE (the CA that signed the servers' certificates). Run it again
after an upgrade: it creates what is new and brings existing consumers to the listed
configuration.

A stream that exists with another configuration is never changed here (an update could
shrink or re-source a stream of record): the run names the stream and each field that
differs, and exits 1, so that a deployment does not go on as if provisioned.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
from typing import Any

import nats
from nats.js import JetStreamContext

from common.consumers import DURABLES, Durable, provision_durables
from common.evidence import EVIDENCE_BUCKETS, bucket_config, bucket_stream
from common.streams import config_differences, declare_stream, declare_streams, stream_config
from common.subjects import Stream
from common.tls import client_context

# What the server decides at a consumer's creation and keeps (common.consumers does the same).
_CONSUMER_FIELDS_FIXED_AT_CREATION = frozenset(
    {"deliver_policy", "opt_start_seq", "opt_start_time"}
)


async def provision(
    servers: list[str],
    user: str,
    password: str,
    replicas: int = 1,
    timeout: float = 60.0,
    tls: ssl.SSLContext | None = None,
) -> list[str]:
    """Wait for JetStream to answer, then declare all streams and durable consumers; returns
    one line for each whose stored configuration differs from this code's and could not be
    changed (left as it is, for an operator to review), naming the fields that differ."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            # This loop waits for the cluster (a Job may start before NATS is up); nats-py's
            # own retries would outlast it and retry what cannot succeed.
            nc = await nats.connect(
                servers,
                user=user,
                password=password,
                connect_timeout=2,
                tls=tls,
                allow_reconnect=False,
                error_cb=_report,
            )
            break
        except ssl.SSLCertVerificationError:
            raise  # a server the CA did not sign, or a name its certificate lacks: no retry
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        js = nc.jetstream()
        while True:
            try:
                await js.account_info()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        drifted = [
            await _stream_drift(js, stream, replicas)
            for stream in await declare_streams(js, list(Stream), replicas)
        ]
        # The evidence buckets, replicated as the streams are.
        drifted += [
            f"stream {bucket_stream(bucket)}: its stored configuration differs (logged)"
            for bucket in EVIDENCE_BUCKETS
            if await declare_stream(js, bucket_config(bucket, replicas))
        ]
        by_name = {f"{d.stream.value}/{d.name}": d for d in DURABLES}
        drifted += [
            await _consumer_drift(js, by_name[name]) for name in await provision_durables(js)
        ]
        return drifted
    finally:
        await nc.close()


async def _report(exc: Exception) -> None:
    """One line per error the client sees (nats-py's default prints a traceback each time)."""
    sys.stderr.write(f"nats: {exc!r}\n")


def _differing(wanted: dict[str, Any], stored: dict[str, Any], skip: frozenset[str]) -> str:
    """``field stored X, wanted Y`` for each field this code sets that the server holds
    otherwise (fields left to the server's defaults are not compared)."""
    fields = [
        f"{field} stored {stored.get(field)!r}, wanted {value!r}"
        for field, value in wanted.items()
        if field not in skip and stored.get(field) != value
    ]
    return "; ".join(fields) or "the server refused the listed configuration"


async def _stream_drift(js: JetStreamContext, stream: Stream, replicas: int) -> str:
    stored = (await js.stream_info(stream.value)).config
    differences = config_differences(stream_config(stream, replicas), stored)
    return f"stream {stream.value}: {'; '.join(differences) or 'the server refused it'}"


async def _consumer_drift(js: JetStreamContext, durable: Durable) -> str:
    stored = (await js.consumer_info(durable.stream.value, durable.name)).config.as_dict()
    wanted = durable.config().as_dict()
    skip = _CONSUMER_FIELDS_FIXED_AT_CREATION | {"name", "durable_name"}
    return f"consumer {durable.stream.value}/{durable.name}: {_differing(wanted, stored, skip)}"


def main() -> None:
    servers = os.environ.get("LEADS_NATS_URL", "nats://127.0.0.1:4333").split(",")
    password = os.environ.get("LEADS_NATS_PASSWORD", "")
    if not password:
        sys.exit("LEADS_NATS_PASSWORD is not set")
    replicas_text = os.environ.get("LEADS_STREAM_REPLICAS", "1")
    # JetStream keeps at most five replicas of a stream.
    if replicas_text not in {"1", "2", "3", "4", "5"}:
        sys.exit(
            f"LEADS_STREAM_REPLICAS must be a whole number from 1 to 5 (got {replicas_text!r})"
        )
    ca_file = os.environ.get("LEADS_NATS_TLS_CA_FILE", "")
    try:
        # The servers are checked against the deployment's own CA, and nothing else.
        tls = client_context(ca_file, "LEADS_NATS_TLS_CA_FILE") if ca_file else None
    except ValueError as exc:
        sys.exit(str(exc))
    try:
        drifted = asyncio.run(
            provision(
                servers,
                os.environ.get("LEADS_NATS_USER", "admin"),
                password,
                int(replicas_text),
                tls=tls,
            )
        )
    except ssl.SSLCertVerificationError as exc:
        sys.exit(
            f"LEADS_NATS_URL: a server's certificate was refused ({exc}): check that "
            "LEADS_NATS_TLS_CA_FILE is the CA that signed it and that it names the host dialled"
        )
    for line in drifted:
        sys.stderr.write(f"exists with another configuration, left as it is: {line}\n")
    if drifted:
        sys.exit(
            f"{len(drifted)} stream(s) or consumer(s) differ from this release's configuration: "
            "change them as the administrator (or restore the listed configuration), then run "
            "provisioning again"
        )
    sys.stdout.write(f"provisioned {len(Stream)} streams and {len(DURABLES)} durable consumers\n")


if __name__ == "__main__":
    main()

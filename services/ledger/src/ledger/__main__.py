"""Run the ledger service: `python -m ledger`."""

from __future__ import annotations

import uvicorn

from common.logging import configure_logging
from ledger.bootstrap import create_app
from ledger.settings import LedgerSettings


def main() -> None:
    settings = LedgerSettings()
    configure_logging(settings.service.value, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()

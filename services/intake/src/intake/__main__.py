"""Run the intake service: `python -m intake`."""

from __future__ import annotations

import uvicorn

from common.logging import configure_logging
from intake.bootstrap import create_app
from intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
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

"""Run the ledger service: `python -m ledger`."""

from __future__ import annotations

from common.service import serve
from ledger.bootstrap import create_app
from ledger.settings import LedgerSettings


def main() -> None:
    settings = LedgerSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

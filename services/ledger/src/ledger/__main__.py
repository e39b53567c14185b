"""Run the ledger service: `python -m ledger`; migrate its own tables and stop:
`python -m ledger migrate [upgrade [REV] | downgrade REV | current]`."""

from __future__ import annotations

import sys

from common.migrations import command_line
from common.service import serve
from ledger.bootstrap import create_app
from ledger.settings import LedgerSettings


def main() -> None:
    settings = LedgerSettings()
    if sys.argv[1:2] == ["migrate"]:
        sys.exit(command_line("ledger", settings.database_url, sys.argv[2:]))
    serve(create_app, settings)


if __name__ == "__main__":
    main()

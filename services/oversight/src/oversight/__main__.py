"""Run the oversight service: `python -m oversight`; migrate its own tables and stop:
`python -m oversight migrate [upgrade [REV] | downgrade REV | current]`."""

from __future__ import annotations

import sys

from common.migrations import command_line
from common.service import serve
from oversight.bootstrap import create_app
from oversight.settings import OversightSettings


def main() -> None:
    settings = OversightSettings()
    if sys.argv[1:2] == ["migrate"]:
        sys.exit(command_line("oversight", settings.database_url, sys.argv[2:]))
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

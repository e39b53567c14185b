"""Run the intake service: `python -m intake`; migrate its own tables and stop:
`python -m intake migrate [upgrade [REV] | downgrade REV | current]`."""

from __future__ import annotations

import sys

from common.migrations import command_line
from common.service import serve
from intake.bootstrap import create_app
from intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    if sys.argv[1:2] == ["migrate"]:
        sys.exit(command_line("intake", settings.database_url, sys.argv[2:]))
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

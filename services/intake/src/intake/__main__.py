"""Run the intake service: `python -m intake`."""

from __future__ import annotations

from common.service import serve
from intake.bootstrap import create_app
from intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

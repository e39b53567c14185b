"""Run the oversight service: `python -m oversight`."""

from __future__ import annotations

from common.service import serve
from oversight.bootstrap import create_app
from oversight.settings import OversightSettings


def main() -> None:
    settings = OversightSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

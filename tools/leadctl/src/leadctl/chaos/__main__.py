"""``python -m leadctl.chaos`` (``make chaos``): the chaos run from the command line. Exits 0
only when nothing was lost or duplicated, the ledger numbers are gap-free and every live
projection equals a fresh replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadctl.chaos.faults import FaultPlan
from leadctl.chaos.run import ChaosOptions, run

app = typer.Typer(add_completion=False)


@app.command()
def chaos(
    leads: Annotated[int, typer.Option(min=1, help="public reports to send")] = 3000,
    rate: Annotated[float, typer.Option(min=0.1, help="reports started per second")] = 50.0,
    seed: Annotated[
        int | None, typer.Option(help="repeat a run: the same reports and fault moments")
    ] = None,
    ledger_kills: Annotated[int, typer.Option(min=0)] = 2,
    oversight_kills: Annotated[int, typer.Option(min=0)] = 1,
    intake_kills: Annotated[int, typer.Option(min=0)] = 1,
    nats_kills: Annotated[int, typer.Option(min=0)] = 1,
    lock_seconds: Annotated[
        float, typer.Option(min=0, help="write lock on the ledger's database (0: none)")
    ] = 15.0,
    data_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="keep the suite's data here (default: a temporary directory)"),
    ] = None,
    keep: Annotated[bool, typer.Option(help="keep the data and logs after a passing run")] = False,
    settle_timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait for every projection to catch up")
    ] = 180.0,
    nats_config: Annotated[Path, typer.Option(envvar="LEADS_NATS_CONFIG")] = Path(
        "deploy/nats/embedded.conf"
    ),
) -> None:
    """Send public reports through intake while killing each service, killing nats-server
    and locking the ledger's database at random moments; then count what survived."""
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        # Never a developer's var/ of make run, nor an earlier run: the count assumes a
        # suite that holds this run's reports alone.
        raise typer.BadParameter(f"{data_dir} is not empty: the run needs a suite of its own")
    report = run(
        ChaosOptions(
            leads=leads,
            rate=rate,
            seed=seed,
            faults=FaultPlan(ledger_kills, oversight_kills, intake_kills, nats_kills, lock_seconds),
            nats_config=nats_config,
            root=data_dir,
            keep=keep,
            settle_timeout=settle_timeout,
        )
    )
    raise typer.Exit(0 if report.passed else 1)


if __name__ == "__main__":
    app()

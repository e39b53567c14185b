"""The load: public reports through intake's HTTP API at a steady rate, each with its own
Idempotency-Key, retried with that same key until intake accepts it (or the run's deadline
passes), as the honest-errors contract asks of a client: a 503 "may have been stored" or a
409 "still being handled" retried with the same key gives the same lead, never a second."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from common.organisation import load_organisation
from common.vocabulary import Category, Flag
from common.workauth import WorkAuth

# Answers that mean the request itself is wrong: retrying cannot help, and the run's own
# reports should never get one.
REFUSED: Final = frozenset({400, 401, 403, 404, 413, 422})
IN_FLIGHT: Final = 32

_MATTERS: Final = (
    (Category.VILLAGE_TYRANT, "有人长期霸占村集体鱼塘，威胁承包户不许续租"),
    (Category.CULT_VICE, "村口废弃厂房夜间聚众赌博，有人放高利贷"),
    (Category.PUBLIC_ORDER, "几名社会闲散人员在集市强收摊位费"),
    (Category.MASS_ECONOMIC, "有人以高息为诱饵组织村民集资，至今无法兑付"),
    (Category.MINOR_CRIMINAL, "砂石场老板雇人殴打拒绝卖地的村民"),
    (Category.PETITION, "多户村民反映土地补偿款被截留，多次信访未果"),
    (Category.PROTECTIVE_UMBRELLA, "某站所工作人员疑为砂石盗采团伙通风报信"),
    (Category.DUTY_CRIME, "村干部在低保评定中收受好处费"),
    (Category.OTHER, "夜间有车辆偷倒建筑垃圾，有人阻拦时被威胁"),
)


@dataclass(frozen=True)
class PlannedReport:
    number: int
    key: str
    body: dict[str, Any]

    @property
    def repeated(self) -> bool:
        """Sent once more after its 201, as by a client whose connection broke before the
        answer arrived: the same key must name the same lead."""
        return self.number % 10 == 0


def plan_reports(seed: int, count: int) -> list[PlannedReport]:
    """``count`` reports of every kind the public sends: named and anonymous, every category,
    some flagged for the discipline committee, across the town's villages. Each carries a
    marker (``details``) by which the count finds it in the stream, and its key is derived
    from the seed, so a run can be repeated exactly."""
    chooser = random.Random(seed)  # noqa: S311 - test data, not secrets
    villages = [v.code for v in load_organisation().villages]
    reports = []
    for number in range(count):
        category, summary = chooser.choice(_MATTERS)
        flags = []
        if (
            category in (Category.PROTECTIVE_UMBRELLA, Category.DUTY_CRIME)
            or chooser.random() < 0.05
        ):
            flags.append(Flag.INVOLVES_OFFICIAL.value)
        body: dict[str, Any] = {
            "category": category.value,
            "summary": f"{summary}（第{number}件）",
            "details": marker(seed, number),
            "village": chooser.choice(villages),
            "flags": flags,
        }
        if chooser.random() < 0.3:
            body["identity"] = {"name": f"举报人{number}", "phone": f"138{number:08d}"}
        reports.append(PlannedReport(number, f"chaos-run-{seed:x}-report-{number:06d}", body))
    return reports


def marker(seed: int, number: int) -> str:
    return f"chaos run {seed:x}, report {number}"


@dataclass
class LoadResult:
    #: idempotency key -> the lead id its 201 named
    accepted: dict[str, str] = field(default_factory=dict)
    #: keys answered with two different lead ids (a repeat that made a second lead)
    conflicting: dict[str, set[str]] = field(default_factory=dict)
    #: keys refused as malformed (a fault in the run's own reports)
    refused: dict[str, str] = field(default_factory=dict)
    #: every answer and transport error met on the way, by status or error name
    answers: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def unfinished(self, reports: list[PlannedReport]) -> list[str]:
        return [r.key for r in reports if r.key not in self.accepted and r.key not in self.refused]


async def send_reports(
    intake_url: str, reports: list[PlannedReport], rate: float, deadline: float
) -> LoadResult:
    """Start one report every ``1/rate`` seconds, whatever the earlier ones are going
    through; each keeps retrying on its own until accepted or ``deadline`` (loop time)."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    started = loop.time()
    # Requests in flight at once: the reports waiting beyond these queue in the client (as
    # in a browser or a gateway) rather than pile onto an intake that is coming back up.
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(
        base_url=intake_url, auth=WorkAuth(), timeout=10.0, limits=limits
    ) as client:
        tasks = []
        try:
            for report in reports:
                due = started + report.number / rate
                # The pace of the load: the next report is due then.
                await asyncio.sleep(max(0.0, due - loop.time()))
                tasks.append(
                    asyncio.create_task(_deliver(client, in_flight, report, deadline, result))
                )
            await asyncio.gather(*tasks)
        finally:
            # Interrupted: no report may go on sending through a closed client.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    result.seconds = loop.time() - started
    return result


async def _deliver(
    client: httpx.AsyncClient,
    in_flight: asyncio.Semaphore,
    report: PlannedReport,
    deadline: float,
    result: LoadResult,
) -> None:
    loop = asyncio.get_running_loop()
    backoff = random.Random(report.key)  # noqa: S311 - jitter, not secrets
    attempt = 0
    sends = 2 if report.repeated else 1
    while loop.time() < deadline:
        try:
            async with in_flight:
                answer = await client.post(
                    "/v1/reports", json=report.body, headers={"Idempotency-Key": report.key}
                )
        except httpx.HTTPStatusError as exc:  # the challenge for the proof of work
            outcome = f"challenge {exc.response.status_code}"
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        else:
            outcome = str(answer.status_code)
            if answer.status_code == 201:
                lead_id = answer.json()["lead_id"]
                earlier = result.accepted.setdefault(report.key, lead_id)
                if earlier != lead_id:
                    result.conflicting.setdefault(report.key, {earlier}).add(lead_id)
                result.answers[outcome] += 1
                sends -= 1
                if sends == 0:
                    return
                # A while later, so that the repeat may meet another intake process.
                await asyncio.sleep(backoff.uniform(0.0, 10.0))
                continue
            if answer.status_code in REFUSED:
                result.refused[report.key] = f"{answer.status_code} {answer.text[:200]}"
                result.answers[outcome] += 1
                return
        result.answers[outcome] += 1
        attempt += 1
        # Retry with the same key: soon at first, then backing off to every few seconds.
        await asyncio.sleep(min(5.0, 0.2 * 2**attempt) * (0.5 + backoff.random()))

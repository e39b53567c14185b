"""Schemathesis against a running service: every operation of its published OpenAPI, with
data that fits the schema and data that does not, sent once anonymously and once as a user
who may call it. Blocking (schemathesis sends with requests): run it in a worker thread
while the event loop serves the app.

Repeatable by default: a fixed number of examples per operation and mode, derandomized, no
example database. ``FUZZ_EXAMPLES`` asks for more (``FUZZ_EXAMPLES=500 pytest tests/fuzz``);
``FUZZ_SEED`` varies the otherwise fixed seed for a longer hunt.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from common.work import HEADER, Purpose, solve

EXAMPLES: Final = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED: Final = os.environ.get("FUZZ_SEED")

# No 5xx, no status the operation does not document, and every body (errors included)
# in the shape and media type its document promises.
CHECKS: Final[list[CheckFunction]] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: Chooses the user a request is sent as: None for anonymous.
UserFor = Callable[[str, str], str | None]


@dataclass
class Run:
    """What one fuzz run found: one line per failing operation and mode."""

    service: str
    base_url: str
    user_for: UserFor
    # path parameter -> values that name something that exists (tests.fuzz.seeds)
    known: dict[str, list[str]] = field(default_factory=dict)
    cases: int = 0
    # (operation, status) -> answers: how far the run reached, printed with its result
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load(base_url: str) -> schemathesis.BaseSchema:
    """The document the service serves, not the one its code would make."""
    config = schemathesis.Config()
    config.projects.override.update(base_url=base_url)
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)


def fuzz(
    run: Run,
    lenient: Mapping[tuple[str, str], str] | None = None,
    excluded: Mapping[tuple[str, str], str] | None = None,
) -> Run:
    """Every operation in both generation modes. ``lenient`` (method, path) -> why: only
    checked for 5xx; ``excluded`` (method, path) -> why: not sent at all. Each why is
    printed and kept in ``run.skipped``."""
    schema = load(run.base_url)
    lenient, excluded = lenient or {}, excluded or {}
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        checks = CHECKS
        if key in excluded:
            _skip(run, f"{run.service} {operation.label}: not fuzzed: {excluded[key]}")
            continue
        if key in lenient:
            _skip(run, f"{run.service} {operation.label}: only 5xx checked: {lenient[key]}")
            checks = CHECKS[:1]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz_operation(run, operation, mode, checks)
            if failure is not None:
                run.failures.append(f"{run.service} {operation.label} ({mode.value}): {failure}")
    return run


def reached(run: Run) -> str:
    """Per operation, the statuses it answered and how often: a run that never got past
    401 or 404 has fuzzed little."""
    by_operation: dict[str, list[str]] = {}
    for (label, status), count in sorted(run.statuses.items()):
        by_operation.setdefault(label, []).append(f"{status}x{count}")
    return "\n".join(f"{run.service} {label}: {' '.join(s)}" for label, s in by_operation.items())


def _skip(run: Run, line: str) -> None:
    print(line)  # noqa: T201 - a case left out says why, in the test's output
    run.skipped.append(line)


def _settings() -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        # A found failure is reported as found: the service's log and the curl line say
        # enough, and shrinking would multiply the requests of a failing run.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _fuzz_operation(
    run: Run,
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    checks: list[CheckFunction],
) -> str | None:
    session = requests.Session()

    @_settings()
    @given(case=_cases(run, operation, mode))
    def check(case: Case) -> None:
        headers = _as(run, case)
        response = case.call(base_url=run.base_url, session=session, headers=headers)
        run.cases += 1
        run.statuses[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=checks, headers=headers)

    if SEED is not None:
        check = hypothesis.seed(int(SEED))(check)
    try:
        check()
    except Unsatisfiable:
        return None  # nothing to break: an operation without parameters has no negative form
    except FailureGroup as exc:
        return str(exc).strip()
    except Exception as exc:  # the call itself failed: connection reset, a timeout
        return f"{type(exc).__name__}: {exc}"
    finally:
        session.close()
    return None


def _cases(
    run: Run, operation: schemathesis.APIOperation, mode: GenerationMode
) -> st.SearchStrategy[Case]:
    """Cases with generated path parameters, and as many again naming what exists."""
    anything = operation.as_strategy(generation_mode=mode)
    names = [n for n in run.known if "{" + n + "}" in operation.path]
    if not names:
        return anything
    existing = st.fixed_dictionaries({n: st.sampled_from(run.known[n]) for n in names})
    return st.one_of(
        anything,
        existing.flatmap(
            lambda given: operation.as_strategy(generation_mode=mode, path_parameters=given)
        ),
    )


# Intake's public operations and what their challenge is for.
PUBLIC: Final = {
    ("POST", "/v1/reports"): Purpose.REPORT,
    ("GET", "/v1/reports/{receipt}"): Purpose.RECEIPT,
    ("POST", "/v1/reports/{receipt}/messages"): Purpose.RECEIPT,
}


def _as(run: Run, case: Case) -> dict[str, str]:
    """Headers that make the case anonymous, or sent by the user chosen for it; a public
    route of intake gets a solved challenge when a user is chosen (its "authorised" form)."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    user = run.user_for(case.method.upper(), case.operation.path)
    if user is None:
        return {}
    if user == "public":
        purpose = PUBLIC[(case.method.upper(), case.operation.path)]
        given_challenge = requests.get(f"{run.base_url}/v1/work/{purpose}", timeout=10).json()
        case.headers[HEADER] = solve(given_challenge["challenge"], given_challenge["bits"])
        return {}
    return {"Authorization": f"Bearer token-{user}"}

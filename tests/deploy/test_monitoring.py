"""deploy/monitoring: the Prometheus configurations and alert rules pass promtool (check
config, check rules, and the rules' unit tests), every metric of ours the rules use is one
the services export, every alert has a runbook section, the Kubernetes component renders;
and the stream limits the capacity alerts watch behave as the runbook says (a full stream
refuses writes and keeps what it has, a grown stream is no drift, the watch exports sizes).

promtool comes from Debian's prometheus package (tools/install-ops-tools.sh); without it
these checks skip, saying so, except under CI=true, where they fail."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from nats.js import JetStreamContext
from nats.js.errors import APIError
from prometheus_client import REGISTRY

import common.growth
import common.operations
import common.runner
import common.streams
from common.streams import STREAM_MAX_BYTES, declare_streams, observe_streams, stream_config
from common.subjects import Stream

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "leads.rules.yml"
RUNBOOKS = ROOT / "deploy" / "runbook"
# Metrics of ours (the rest come from the exporters, kube-state-metrics, the kubelet).
OURS = re.compile(r"\b(leads_[a-z_]+|projection_[a-z_]+|stream_growth_alarm)\b")
_MODULES = (common.growth, common.operations, common.runner, common.streams)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        why = f"{name} is not installed (tools/install-ops-tools.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        print(f"skipped: {why}")  # noqa: T201 - the reason, in the output
        pytest.skip(why)
    return found


def run(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - tools found on PATH, arguments of our own
        args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_alert_rules() -> None:
    result = run(tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_promtool_accepts_the_scrape_configuration(config: str) -> None:
    result = run(tool("promtool"), "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    # The rules are found through the configuration, as Prometheus will load them.
    assert "rules/leads.rules.yml" in result.stdout


def test_the_alerts_fire_on_the_series_their_unit_tests_give() -> None:
    result = run(
        tool("promtool"), "test", "rules", "tests/leads.rules.test.yml", "tests/leads.tls.test.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _exported() -> set[str]:
    """Every sample name our modules' metrics produce (counters with _total, etc.)."""
    # The registry's own map of collectors to the names they produce.
    return {name for names in REGISTRY._collector_to_names.values() for name in names}


def test_every_metric_of_ours_the_rules_use_is_exported() -> None:
    assert all(module.__name__ for module in _MODULES)  # imported: their metrics registered
    used = {name for rule in _rules() for name in OURS.findall(str(rule["expr"]))}
    used = {name for name in used if not name.startswith("leads:")}
    assert used, "the rules use none of the services' metrics"
    missing = used - _exported()
    assert not missing, f"the rules use metrics nobody exports: {sorted(missing)}"


def test_every_alert_links_to_a_section_of_a_runbook() -> None:
    anchors: dict[str, set[str]] = {}
    for page in RUNBOOKS.glob("*.md"):
        headings = re.findall(r"^#+\s+(.+?)\s*$", page.read_text(), flags=re.MULTILINE)
        anchors[page.name] = {
            re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings
        }
    alerts = [rule for rule in _rules() if "alert" in rule]
    assert len(alerts) >= 15
    for rule in alerts:
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        page, _, anchor = (
            str(annotations["runbook_url"]).removeprefix("deploy/runbook/").partition("#")
        )
        assert page in anchors, f"{rule['alert']}: no runbook {page}"
        assert anchor in anchors[page], f"{rule['alert']}: no section #{anchor} in {page}"


def test_the_kubernetes_component_adds_the_exporter_sidecar_and_the_discovery_services(
    tmp_path: Path,
) -> None:
    kubectl = tool("kubectl")
    shutil.copy(ROOT / "deploy" / "k8s" / "nats.yaml", tmp_path / "nats.yaml")
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["nats.yaml"],
                "components": [os.path.relpath(MONITORING / "k8s", tmp_path)],
            }
        )
    )
    result = run(kubectl, "kustomize", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rendered = list(yaml.safe_load_all(result.stdout))
    [nats] = [d for d in rendered if d["kind"] == "StatefulSet"]
    pod = nats["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"nats", "metrics"}
    assert containers["metrics"]["args"][-1] == "http://localhost:8222"
    assert "-jsz=all" in containers["metrics"]["args"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "7777"
    headless = {d["metadata"]["name"] for d in rendered if d["kind"] == "Service"} - {"nats"}
    assert headless == {"intake-metrics", "ledger-metrics", "oversight-metrics", "nats-metrics"}
    k8s_config = (MONITORING / "prometheus-k8s.yml").read_text()
    for name in headless:
        assert f"{name}.leads.svc.cluster.local" in k8s_config


# --- the stream limits the capacity alerts watch ------------------------------------------------


@pytest.mark.integration
async def test_a_full_stream_refuses_writes_and_keeps_what_it_holds(js: JetStreamContext) -> None:
    config = stream_config(Stream.DLQ_LEDGER)
    config.max_bytes = 4096  # a few messages: what a full stream does, without filling 128 MiB
    await js.add_stream(config)
    stored, refused = 0, None
    for n in range(100):
        try:
            await js.publish("dlq.ledger.parked", b"x" * 200, headers={"Nats-Msg-Id": f"m{n}"})
            stored += 1
        except APIError as exc:
            refused = exc
            break
    assert refused is not None, "the stream took more than its max_bytes"
    assert "maximum bytes" in str(refused.description).lower(), refused
    info = await js.stream_info(Stream.DLQ_LEDGER.value)
    # Nothing was dropped to make room: the first message is still the first.
    assert (info.state.first_seq, info.state.messages) == (1, stored)


@pytest.mark.integration
async def test_a_stream_grown_by_the_administrator_is_no_drift_but_another_change_is(
    js: JetStreamContext,
) -> None:
    assert await declare_streams(js, [Stream.LEDGER]) == []
    grown = copy.deepcopy((await js.stream_info(Stream.LEDGER.value)).config)
    grown.max_bytes = STREAM_MAX_BYTES[Stream.LEDGER] * 2
    await js.update_stream(grown)
    assert await declare_streams(js, [Stream.LEDGER]) == []

    shrunk = copy.deepcopy(grown)
    shrunk.max_bytes = STREAM_MAX_BYTES[Stream.LEDGER] // 2
    await js.update_stream(shrunk)
    assert await declare_streams(js, [Stream.LEDGER]) == [Stream.LEDGER]


@pytest.mark.integration
async def test_the_stream_watch_exports_size_and_limit(js: JetStreamContext) -> None:
    await declare_streams(js, [Stream.AUDIT])
    await js.publish("audit.ledger.lead.L1.LeadViewed", b"{}", headers={"Nats-Msg-Id": "a1"})
    await observe_streams(js, [Stream.AUDIT, Stream.OVERSIGHT])  # OVERSIGHT absent: skipped
    size = REGISTRY.get_sample_value("leads_stream_bytes", {"stream": "AUDIT"})
    limit = REGISTRY.get_sample_value("leads_stream_max_bytes", {"stream": "AUDIT"})
    count = REGISTRY.get_sample_value("leads_stream_messages", {"stream": "AUDIT"})
    info = await js.stream_info(Stream.AUDIT.value)
    assert (size, count, limit) == (info.state.bytes, 1, STREAM_MAX_BYTES[Stream.AUDIT])
    assert size is not None
    assert size > 0


def test_the_dashboard_shows_only_figures_that_exist() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    recorded = {str(rule["record"]) for rule in _rules() if "record" in rule}
    exported = _exported()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in OURS.findall(target["expr"]):
                assert name in exported, f"{panel['title']}: nobody exports {name}"
            for name in re.findall(r"\bleads:[a-z_:]+", target["expr"]):
                assert name in recorded, f"{panel['title']}: no rule records {name}"

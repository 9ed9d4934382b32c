"""Run the real validators on a generated kit; each returns a list of problems (empty = pass).

Used by the tests and by ``critterops generate --validate``. A validator that is not installed is
reported as skipped, never as passed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from critterops.generate.kubernetes import deployment_equivalent
from critterops.generate.yamlio import YAMLLINT_CONFIG, dump_all

ARGO_SCHEMAS = {
    "Rollout": "rollout-crd.yaml",
    "AnalysisTemplate": "analysis-template-crd.yaml",
}
KUBERNETES_VERSION = "1.32.0"


@dataclass
class Result:
    validator: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.skipped is None and not self.problems


def _run(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, check=False)


def render(kit: Path, overlay: str) -> list[dict[str, Any]]:
    """``kubectl kustomize`` of one overlay, parsed."""
    result = _run(["kubectl", "kustomize", str(kit / "kubernetes" / "overlays" / overlay)])
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay}: {result.stderr.strip()}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def overlays(kit: Path) -> list[str]:
    return sorted(p.name for p in (kit / "kubernetes" / "overlays").iterdir() if p.is_dir())


def kustomize(kit: Path) -> Result:
    result = Result("kubectl kustomize")
    if shutil.which("kubectl") is None:
        result.skipped = "kubectl not installed"
        return result
    for overlay in overlays(kit):
        try:
            result.checked += len(render(kit, overlay))
        except RuntimeError as error:
            result.problems.append(str(error))
    return result


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields rejected (CRD schemas allow them; typos must fail)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _argo_validators(schemas: Path) -> dict[str, Any]:
    import jsonschema

    out: dict[str, Any] = {}
    for kind, file in ARGO_SCHEMAS.items():
        crd = yaml.safe_load((schemas / file).read_text())
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
        schema = _strict(version["schema"]["openAPIV3Schema"])
        # metadata is validated by the API server, not by the CRD schema
        schema["properties"]["metadata"] = {"type": "object"}
        out[kind] = jsonschema.Draft7Validator(schema)
    return out


def argo_schemas(kit: Path, schemas: Path | None) -> Result:
    result = Result("Argo Rollouts CRD schemas (unknown fields rejected)")
    if schemas is None or not schemas.is_dir():
        result.skipped = f"Argo Rollouts CRD schemas not found ({schemas}); set CRITTEROPS_ARGO_SCHEMAS"
        return result
    validators = _argo_validators(schemas)
    for overlay in overlays(kit):
        for doc in render(kit, overlay):
            validator = validators.get(doc.get("kind", ""))
            if validator is None:
                continue
            result.checked += 1
            for error in validator.iter_errors(doc):
                path = ".".join(str(p) for p in error.absolute_path)
                result.problems.append(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}")
    return result


def kubernetes_validate(kit: Path) -> Result:
    result = Result(f"kubernetes-validate --strict (Kubernetes {KUBERNETES_VERSION})")
    try:
        import kubernetes_validate as kv
    except ImportError:
        result.skipped = "kubernetes-validate not installed (pip install kubernetes-validate)"
        return result
    for overlay in overlays(kit):
        for doc in render(kit, overlay):
            if doc.get("apiVersion", "").startswith("argoproj.io/"):
                continue
            result.checked += 1
            try:
                kv.validate(doc, KUBERNETES_VERSION, strict=True)
            except kv.ValidationError as error:
                result.problems.append(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {error.message}")
            except kv.SchemaNotFoundError:
                result.problems.append(f"{overlay}: no schema for {doc['apiVersion']} {doc['kind']}")
    return result


def checkov_binary() -> str | None:
    configured = os.environ.get("CRITTEROPS_CHECKOV")
    if configured and Path(configured).exists():
        return configured
    return shutil.which("checkov") or (
        "/opt/checkov-venv/bin/checkov" if Path("/opt/checkov-venv/bin/checkov").exists() else None
    )


def checkov_reports(binary: str, folder: str, frameworks: tuple[str, ...]) -> tuple[list[dict[str, Any]], str | None]:
    """checkov's JSON reports (one per framework) for a folder, offline; or why its output could not be read."""
    run = _run(
        [binary, "-d", folder, "--framework", *frameworks, "--skip-download", "--compact", "--quiet", "-o", "json"],
        env={"BC_SKIP_MAPPING": "TRUE"},
    )
    try:
        report = json.loads(run.stdout or "{}")
    except json.JSONDecodeError:
        return [], run.stderr.strip()[-500:]
    return [r for r in (report if isinstance(report, list) else [report]) if isinstance(r, dict)], None


def checkov(kit: Path) -> Result:
    """checkov's kubernetes framework on every rendered object, Rollouts as their Deployment equivalent."""
    result = Result("checkov --framework kubernetes")
    binary = checkov_binary()
    if binary is None:
        result.skipped = "checkov not installed (set CRITTEROPS_CHECKOV or put checkov on PATH)"
        return result
    with tempfile.TemporaryDirectory(prefix="critterops-checkov-") as folder:
        for overlay in overlays(kit):
            docs = [deployment_equivalent(d) if d.get("kind") == "Rollout" else d for d in render(kit, overlay)]
            docs = [d for d in docs if not d.get("apiVersion", "").startswith("argoproj.io/")]
            (Path(folder) / f"{overlay}.yaml").write_text(dump_all(docs, header=""))
        reports, error = checkov_reports(binary, folder, ("kubernetes",))
    if error is not None:
        result.problems.append(f"checkov output unreadable: {error}")
        return result
    for item in reports:
        summary = item.get("summary", {})
        result.checked += int(summary.get("passed", 0)) + int(summary.get("failed", 0))
        for failed in item.get("results", {}).get("failed_checks", []):
            result.problems.append(
                f"{failed['check_id']} {failed['resource']} ({failed['file_path']}): {failed['check_name']}"
            )
    return result


def yamllint(kit: Path) -> Result:
    result = Result("yamllint -s")
    if shutil.which("yamllint") is None:
        result.skipped = "yamllint not installed"
        return result
    files = sorted(
        str(p) for p in kit.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file() and not _helm_template(p)
    )
    result.checked = len(files)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as config:
        config.write(YAMLLINT_CONFIG)
    try:
        run = _run(["yamllint", "-s", "-f", "parsable", "-c", config.name, *files])
    finally:
        os.unlink(config.name)
    result.problems += [line for line in run.stdout.splitlines() if line.strip()]
    return result


def _helm_template(path: Path) -> bool:
    """A Helm chart's template: Go template text, not YAML (helm lint checks it instead)."""
    return any(p.name == "templates" and (p.parent / "Chart.yaml").is_file() for p in path.parents)


def default_schemas() -> Path | None:
    configured = os.environ.get("CRITTEROPS_ARGO_SCHEMAS")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "schemas" / "argo-rollouts"
        if candidate.is_dir():
            return candidate
    return None


def kubernetes_checks(kit: Path) -> list[Result]:
    return [kustomize(kit), kubernetes_validate(kit), argo_schemas(kit, default_schemas()), checkov(kit), yamllint(kit)]


def _tool(result: Result, binary: str) -> bool:
    if shutil.which(binary) is None:
        result.skipped = f"{binary} not installed"
        return False
    return True


def promtool(kit: Path) -> list[Result]:
    rules = kit / "observability" / "prometheus" / "alerts.yaml"
    tests = kit / "observability" / "prometheus" / "alerts.test.yaml"
    check, test = Result("promtool check rules"), Result("promtool test rules")
    if not _tool(check, "promtool") or not _tool(test, "promtool"):
        return [check, test]
    run = _run(["promtool", "check", "rules", str(rules)])
    found = [line for line in run.stdout.splitlines() if "rules found" in line]
    check.checked = int(found[0].split()[1]) if found and found[0].split()[1].isdigit() else 0
    if run.returncode != 0:
        check.problems.append((run.stdout + run.stderr).strip()[-2000:])
    run = _run(["promtool", "test", "rules", tests.name], cwd=tests.parent)
    test.checked = 1
    if run.returncode != 0:
        test.problems.append((run.stdout + run.stderr).strip()[-2000:])
    return [check, test]


def workflows(kit: Path) -> list[Result]:
    files = sorted(str(p) for p in (kit / ".github" / "workflows").glob("*.y*ml"))
    zizmor, actionlint = Result("zizmor --offline"), Result("actionlint")
    if _tool(zizmor, "zizmor"):
        zizmor.checked = len(files)
        run = _run(["zizmor", "--offline", "--format", "plain", *files])
        if run.returncode != 0:
            zizmor.problems += [line for line in run.stdout.splitlines() if line.strip()][:50]
    if _tool(actionlint, "actionlint"):
        actionlint.checked = len(files)
        run = _run(["actionlint", "-no-color", *files])
        if run.returncode != 0:
            actionlint.problems += [line for line in run.stdout.splitlines() if line.strip()][:50]
    return [zizmor, actionlint]


def hadolint(kit: Path) -> Result:
    result = Result("hadolint")
    files = sorted(str(p) for p in (kit / "docker").rglob("Dockerfile*"))
    if not _tool(result, "hadolint"):
        return result
    result.checked = len(files)
    if files:
        run = _run(["hadolint", "--no-color", *files])
        if run.returncode != 0:
            result.problems += [line for line in run.stdout.splitlines() if line.strip()]
    return result


def other_checks(kit: Path, groups: tuple[str, ...]) -> list[Result]:
    results: list[Result] = []
    if "observability" in groups:
        results += promtool(kit)
    if "github" in groups:
        results += workflows(kit)
    if "docker" in groups:
        results.append(hadolint(kit))
    if "kubernetes" not in groups:
        results.append(yamllint(kit))
    return results

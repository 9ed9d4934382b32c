"""Build the lab's engines from their Go modules into a cache outside the repository (used by ``scripts/lab.py``).

Every component is pinned here, in one table. Nothing of another project is committed: the wrapper
modules below are written at build time into the cache, and every source comes from the Go module
proxy (``go mod download``), every server that Debian ships (etcd, Prometheus) from ``apt-get``.

Cache layout (``$CRITTEROPS_LAB_CACHE``, default ``~/.cache/critterops-lab``)::

    src/<component>-<version>/   wrapper modules (go.mod, tools.go) or the collector builder's output
    bin/<component>-<version>/   the binaries, plus BUILT (the build's duration and the go version)

A component whose ``BUILT`` marker exists is not rebuilt. Go's own caches (``GOMODCACHE``,
``GOCACHE``) stay where the machine has them, so a rebuild after ``rm -rf bin/`` is a link step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("CRITTEROPS_LAB_CACHE", str(Path.home() / ".cache" / "critterops-lab")))

# Kubernetes 1.30 is the newest minor whose apiserver accepts Debian 12's etcd 3.4.23 (1.31 asks for
# >= 3.4.29). Argo Rollouts 1.9.1 is the newest tag whose go.mod asks for no newer Go than this machine
# has (1.9.3 wants 1.26.10); the reference notes checked its web provider at this tag. kustomize
# v5.7.1 likewise (v5.8.x wants Go 1.27). The collector core v0.165.0 goes with contrib v0.165.1.
KUBERNETES = "v1.30.14"
KUBERNETES_STAGING = "v0.30.14"
KWOK = "v0.7.0"
ARGO_ROLLOUTS = "v1.9.1"
OTELCOL_CORE = "v0.165.0"
OTELCOL_CONTRIB = "v0.165.1"
KUSTOMIZE = "v5.7.1"
# sigs.k8s.io/network-policy-api's policy-assistant is a nested module whose go.mod names another path
# (sigs.k8s.io/network-policy-api/policy-assistant under cmd/policy-assistant), so the module proxy
# serves it under neither name. cyclonus is the project it grew out of (same author, same engine).
CYCLONUS = "v0.5.6"


class BuildError(Exception):
    pass


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    binaries: tuple[str, ...]
    build: Callable[[Path, Path], None]  # (source folder, binary folder)

    @property
    def bin_dir(self) -> Path:
        return CACHE / "bin" / f"{self.name}-{self.version}"

    @property
    def src_dir(self) -> Path:
        return CACHE / "src" / f"{self.name}-{self.version}"

    def built(self) -> bool:
        return (self.bin_dir / "BUILT").exists() and all((self.bin_dir / b).exists() for b in self.binaries)

    def path(self, binary: str) -> Path:
        return self.bin_dir / binary


def _go(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> str:
    full = {**os.environ, "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0", **(env or {})}
    done = subprocess.run(
        ["go", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-25:])
        raise BuildError(f"`go {' '.join(args)}` in {cwd} failed:\n{tail}")
    return done.stdout


def module_dir(module: str, version: str) -> Path:
    """The unpacked module in the module cache (downloaded through the proxy when missing)."""
    out = _go(["mod", "download", "-json", f"{module}@{version}"], Path("/tmp"))
    info = json.loads(out)
    if info.get("Error"):
        raise BuildError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def _gomod_file(module: str, version: str) -> str:
    _go(["mod", "download", "-json", f"{module}@{version}"], Path("/tmp"))
    gomodcache = _go(["env", "GOMODCACHE"], Path("/tmp")).strip()
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)
    return (Path(gomodcache) / "cache" / "download" / escaped / "@v" / f"{version}.mod").read_text()


def _replace_lines(gomod: str) -> list[str]:
    """The `old => new version` lines of a go.mod, from `replace (...)` blocks and single `replace` lines."""
    lines: list[str] = []
    in_block = False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.startswith("replace ("):
            in_block = True
        elif in_block and line == ")":
            in_block = False
        elif in_block and "=>" in line:
            lines.append(line)
        elif line.startswith("replace ") and "=>" in line:
            lines.append(line.removeprefix("replace ").strip())
    return lines


def _wrapper(src: Path, module: str, go_version: str, require: str, replaces: list[str], mains: list[str]) -> None:
    """A module of ours that requires the upstream module and imports its main packages (tools.go)."""
    src.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"\t{r}" for r in replaces)
    (src / "go.mod").write_text(f"module {module}\n\ngo {go_version}\n\nrequire {require}\n\nreplace (\n{body}\n)\n")
    imports = "\n".join(f'\t_ "{m}"' for m in mains)
    (src / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    _go(["mod", "tidy"], src)


def _build_kubernetes(src: Path, out: Path) -> None:
    # The known pattern for building Kubernetes as a library (kubernetes issue #79384): k8s.io/kubernetes'
    # go.mod replaces every staging module with ./staging/src/..., which a dependent module cannot use, so
    # the wrapper replaces each with its published v0.30.x.
    gomod = _gomod_file("k8s.io/kubernetes", KUBERNETES)
    staging = sorted(set(re.findall(r"(k8s\.io/[a-z0-9-]+) => \./staging/", gomod)))
    if not staging:
        raise BuildError("k8s.io/kubernetes' go.mod lists no staging modules: has the layout changed?")
    mains = [f"k8s.io/kubernetes/cmd/{b}" for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")]
    _wrapper(
        src,
        "critterops.local/lab/kubernetes",
        "1.22.0",
        f"k8s.io/kubernetes {KUBERNETES}",
        [f"{m} => {m} {KUBERNETES_STAGING}" for m in staging],
        mains,
    )
    minor = KUBERNETES.lstrip("v").split(".")[1]
    ldflags = (
        f"-s -w -X k8s.io/component-base/version.gitVersion={KUBERNETES} "
        f"-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor={minor}"
    )
    _go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(out) + "/", *mains], src)


def _build_argo_rollouts(src: Path, out: Path) -> None:
    # Its go.mod has replace directives (all to published versions), so `go install` refuses it: the
    # wrapper mirrors them.
    module = "github.com/argoproj/argo-rollouts"
    gomod = _gomod_file(module, ARGO_ROLLOUTS)
    go_version = re.search(r"^go (\S+)", gomod, re.M)
    _wrapper(
        src,
        "critterops.local/lab/argo-rollouts",
        go_version.group(1) if go_version else "1.24",
        f"{module} {ARGO_ROLLOUTS}",
        _replace_lines(gomod),
        [f"{module}/cmd/rollouts-controller"],
    )
    ldflags = f"-s -w -X {module}/utils/version.version={ARGO_ROLLOUTS.lstrip('v')}"
    _go(
        [
            "build",
            "-trimpath",
            "-ldflags",
            ldflags,
            "-o",
            str(out / "rollouts-controller"),
            f"{module}/cmd/rollouts-controller",
        ],
        src,
    )
    crds = module_dir(module, ARGO_ROLLOUTS) / "manifests" / "crds"
    target = out / "crds"
    target.mkdir(exist_ok=True)
    for crd in sorted(crds.glob("*.yaml")):
        if crd.name != "kustomization.yaml":
            shutil.copyfile(crd, target / crd.name)


def _go_install(module_main: str, version: str) -> Callable[[Path, Path], None]:
    def build(src: Path, out: Path) -> None:
        src.mkdir(parents=True, exist_ok=True)
        _go(["install", "-trimpath", "-ldflags", "-s -w", f"{module_main}@{version}"], src, {"GOBIN": str(out)})

    return build


OTELCOL_COMPONENTS = {
    "receivers": ["go.opentelemetry.io/collector/receiver/otlpreceiver " + OTELCOL_CORE],
    "processors": [
        "go.opentelemetry.io/collector/processor/batchprocessor " + OTELCOL_CORE,
        "go.opentelemetry.io/collector/processor/memorylimiterprocessor " + OTELCOL_CORE,
        "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor " + OTELCOL_CONTRIB,
    ],
    "exporters": [
        "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter " + OTELCOL_CONTRIB,
        "go.opentelemetry.io/collector/exporter/otlpexporter " + OTELCOL_CORE,
        "go.opentelemetry.io/collector/exporter/debugexporter " + OTELCOL_CORE,
    ],
    "extensions": [
        "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension " + OTELCOL_CONTRIB,
    ],
}


def _build_otelcol(src: Path, out: Path) -> None:
    """The collector builder (ocb) from a manifest: exactly the components the kit's collector config uses."""
    src.mkdir(parents=True, exist_ok=True)
    builder_bin = src / "builder-bin"
    _go(["install", f"go.opentelemetry.io/collector/cmd/builder@{OTELCOL_CORE}"], src, {"GOBIN": str(builder_bin)})
    lines = [
        "dist:",
        "  name: otelcol",
        "  description: critterops lab collector",
        "  module: critterops.local/lab/otelcol",
        f"  output_path: {src / 'dist'}",
    ]
    for kind, mods in OTELCOL_COMPONENTS.items():
        lines.append(f"{kind}:")
        lines += [f"  - gomod: {m}" for m in mods]
    (src / "manifest.yaml").write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [str(builder_bin / "builder"), "--config", str(src / "manifest.yaml")],
        cwd=src,
        env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-25:])
        raise BuildError(f"the collector builder failed:\n{tail}")
    shutil.copyfile(src / "dist" / "otelcol", out / "otelcol")
    (out / "otelcol").chmod(0o755)


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            "kubernetes", KUBERNETES, ("kube-apiserver", "kube-controller-manager", "kube-scheduler"), _build_kubernetes
        ),
        Component("kwok", KWOK, ("kwok",), _go_install("sigs.k8s.io/kwok/cmd/kwok", KWOK)),
        Component("argo-rollouts", ARGO_ROLLOUTS, ("rollouts-controller",), _build_argo_rollouts),
        Component("otelcol", OTELCOL_CORE, ("otelcol",), _build_otelcol),
        Component("kustomize", KUSTOMIZE, ("kustomize",), _go_install("sigs.k8s.io/kustomize/kustomize/v5", KUSTOMIZE)),
        Component(
            "cyclonus", CYCLONUS, ("cyclonus",), _go_install("github.com/mattfenwick/cyclonus/cmd/cyclonus", CYCLONUS)
        ),
    )
}

DEBIAN = {"etcd": ("etcd-server", "/usr/bin/etcd"), "prometheus": ("prometheus", "/usr/bin/prometheus")}


def build(names: list[str] | None = None, log: Callable[[str], None] = print) -> dict[str, float]:
    """Build what is missing; returns seconds per component built now (0 for those found in the cache)."""
    if shutil.which("go") is None:
        raise BuildError(
            "Go is not installed: the lab's engines are built from their Go modules (apt-get install golang)"
        )
    missing = [pkg for pkg, path in DEBIAN.values() if not Path(path).exists()]
    if missing:
        log(f"lab: apt-get install {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BuildError(f"apt-get install {' '.join(missing)} failed: {done.stderr.strip()[-400:]}")
    times: dict[str, float] = {}
    for name in names or list(COMPONENTS):
        if name not in COMPONENTS:
            raise BuildError(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}")
        comp = COMPONENTS[name]
        if comp.built():
            times[name] = 0.0
            continue
        log(f"lab: building {name} {comp.version} (cold builds take minutes; the cache is {CACHE})")
        started = time.monotonic()
        comp.bin_dir.mkdir(parents=True, exist_ok=True)
        comp.build(comp.src_dir, comp.bin_dir)
        took = time.monotonic() - started
        go_version = _go(["env", "GOVERSION"], Path("/tmp")).strip()
        (comp.bin_dir / "BUILT").write_text(json.dumps({"seconds": round(took, 1), "go": go_version}) + "\n")
        times[name] = took
        log(f"lab: built {name} in {took:.0f} s")
    return times


def cache_size() -> dict[str, int]:
    """Bytes in the lab's binaries and in Go's module and build caches (shared with other Go work)."""
    sizes: dict[str, int] = {}
    gomod = _go(["env", "GOMODCACHE"], Path("/tmp")).strip()
    gocache = _go(["env", "GOCACHE"], Path("/tmp")).strip()
    for label, path in (("lab binaries", CACHE / "bin"), ("GOMODCACHE", Path(gomod)), ("GOCACHE", Path(gocache))):
        done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
        sizes[label] = int(done.stdout.split()[0]) if done.returncode == 0 and done.stdout else 0
    return sizes

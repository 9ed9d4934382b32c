"""The Kubernetes API as the deploy backend sees it: a few verbs, each failure a sentence.

Built on lightkube (1.0): chosen over the official ``kubernetes`` client because it is small (one
httpx-based client, typed models loaded on demand; the official client is ~30 MB of generated code),
has first-class generic resources for CRDs with their ``status`` subresource (Argo's Rollouts), and
``watch`` with ``resourceVersion`` and server-side timeouts, which is all the engine needs. Nothing
here shells out to kubectl.

Argo Rollouts objects and verbs are those of argo-rollouts v1.9.1 (the version the lab builds):
``Rollout`` ``argoproj.io/v1alpha1``, plural ``rollouts``, a ``status`` subresource
(pkg/apis/rollouts/v1alpha1/types.go); promote and abort are merge patches of the status subresource
as ``kubectl argo rollouts`` sends them (pkg/kubectl-argo-rollouts/cmd/promote/promote.go:35-42,
cmd/abort/abort.go:30).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from critterops.errors import BackendError, UserError

ROLLOUT_API = ("argoproj.io", "v1alpha1", "Rollout", "rollouts")
# what the engine does, checked with SelfSubjectAccessReview before anything changes
NEEDED_ACCESS: tuple[tuple[str, str, str, str], ...] = (
    # (verb, group, resource, subresource)
    ("get", "argoproj.io", "rollouts", ""),
    ("list", "argoproj.io", "rollouts", ""),
    ("watch", "argoproj.io", "rollouts", ""),
    ("patch", "argoproj.io", "rollouts", ""),
    ("patch", "argoproj.io", "rollouts", "status"),
    ("get", "batch", "jobs", ""),
    ("list", "batch", "jobs", ""),
    ("watch", "batch", "jobs", ""),
    ("create", "batch", "jobs", ""),
    ("get", "", "configmaps", ""),
    ("create", "", "configmaps", ""),
    ("patch", "", "configmaps", ""),
)


class ClusterError(BackendError):
    """The cluster could not be reached or refused a request (exit 2: nothing was changed by it)."""


class Tolerated(Exception):
    """An HTTP status the caller handles itself (404: not there, 409: exists already)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Target:
    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str | None = None


def _lightkube() -> Any:
    try:
        import lightkube
    except ImportError as error:  # pragma: no cover - a dependency
        raise UserError("the Kubernetes backend needs lightkube: pip install 'lightkube>=1.0'") from error
    return lightkube


class Cluster:
    """One namespace of one cluster, through a kubeconfig context."""

    def __init__(self, target: Target) -> None:
        lk = _lightkube()
        from lightkube.config.kubeconfig import KubeConfig
        from lightkube.core.exceptions import ConfigError
        from lightkube.generic_resource import create_namespaced_resource

        path = target.kubeconfig or Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
        path = path.expanduser()
        if not path.is_file():
            raise UserError(f"no kubeconfig at {path}: pass --kubeconfig or set KUBECONFIG")
        try:
            config = KubeConfig.from_file(str(path))
        except (ConfigError, OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"--kubeconfig {path}: cannot be read ({error})") from error
        contexts = sorted(config.contexts)
        if target.context is not None and target.context not in config.contexts:
            raise UserError(f"--context {target.context}: not in {path} (it has {', '.join(contexts) or 'none'})")
        if target.context is None and config.current_context not in config.contexts:
            raise UserError(f"{path} has no current context: pass --context (one of {', '.join(contexts) or 'none'})")
        try:
            single = config.get(target.context)
        except ConfigError as error:
            raise UserError(f"--kubeconfig {path}: {error}") from error
        if single is None:
            raise UserError(f"--kubeconfig {path}: no usable context")
        self.context = single.context_name
        self.server = single.cluster.server if single.cluster else ""
        self.namespace = target.namespace or single.namespace
        host = urlsplit(self.server).hostname or ""
        # loopback never goes through a proxy from the environment
        trust_env = not _is_loopback(host)
        self.client = lk.Client(config=single, namespace=self.namespace, trust_env=trust_env)
        self.Rollout = create_namespaced_resource(*ROLLOUT_API)
        self.where = f"{self.server} (context {self.context}, namespace {self.namespace})"

    # --- errors ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str, *, tolerate: tuple[int, ...] = ()) -> Iterator[None]:
        """Translate what the client raises into a sentence; an HTTP status in ``tolerate`` becomes ``Tolerated``
        (the API's JSON errors and plain ones alike: an unknown API group answers a plain-text 404)."""
        from lightkube.core.exceptions import ApiError

        try:
            yield
        except (ClusterError, Tolerated):
            raise
        except Exception as error:
            response = getattr(error, "response", None)
            code = error.status.code if isinstance(error, ApiError) else getattr(response, "status_code", None)
            if code is None:
                if type(error).__module__.startswith(("httpx", "httpcore", "ssl")) or isinstance(error, OSError):
                    raise ClusterError(f"cannot reach the Kubernetes API at {self.server}: {error}") from None
                raise
            if code in tolerate:
                raise Tolerated(code) from None
            message = (error.status.message if isinstance(error, ApiError) else "") or str(error).splitlines()[0]
            if code == 403:
                raise ClusterError(f"forbidden to {what} in {self.where}: {message}") from None
            if code == 401:
                raise ClusterError(f"the cluster at {self.server} refused our credentials: {message}") from None
            raise ClusterError(f"cannot {what} in {self.where}: {message} (HTTP {code})") from None

    # --- checks ---------------------------------------------------------------------------------

    def check(self) -> None:
        """Reachable, Argo Rollouts installed, the namespace there, and every verb the engine needs
        allowed; one error naming all that is missing (nothing has been changed)."""
        from lightkube.resources.core_v1 import Namespace

        try:
            with self._errors("list Rollouts", tolerate=(404,)):
                list(self.client.list(self.Rollout, namespace=self.namespace, chunk_size=1))
        except Tolerated:
            raise ClusterError(
                f"Argo Rollouts is not installed in {self.server}: no rollouts.argoproj.io CRD "
                "(install it: https://argo-rollouts.readthedocs.io/en/stable/installation/)"
            ) from None
        except ClusterError as error:
            if "forbidden" not in str(error):
                raise
        try:
            with self._errors(f"read namespace {self.namespace}", tolerate=(403, 404)):
                self.client.get(Namespace, self.namespace)
        except Tolerated as error:
            if error.code == 404:
                raise ClusterError(f"namespace {self.namespace} does not exist in {self.server}") from None
            # 403: a deployer may work in its namespace without reading Namespace objects
        missing = [
            f"{verb} {resource}{'/' + sub if sub else ''}"
            for verb, group, resource, sub in NEEDED_ACCESS
            if not self.allowed(verb, group, resource, sub)
        ]
        if missing:
            raise ClusterError(
                f"the credentials of context {self.context} may not {', '.join(missing)} in namespace "
                f"{self.namespace}: grant them (a Role bound to the deploying ServiceAccount) and run again"
            )

    def allowed(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
        from lightkube.resources.authorization_v1 import SelfSubjectAccessReview

        review = SelfSubjectAccessReview(
            spec=SelfSubjectAccessReviewSpec(
                resourceAttributes=ResourceAttributes(
                    verb=verb, group=group, resource=resource, subresource=subresource, namespace=self.namespace
                )
            )
        )
        with self._errors("review access"):
            answer = self.client.create(review)
        return bool(answer.status and answer.status.allowed)

    # --- objects --------------------------------------------------------------------------------

    def _resource(self, kind: str) -> Any:
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.resources.batch_v1 import Job
        from lightkube.resources.core_v1 import ConfigMap

        return {"Rollout": self.Rollout, "Deployment": Deployment, "Job": Job, "ConfigMap": ConfigMap}[kind]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object as a dict, or None when there is none of that name."""

        try:
            with self._errors(f"read {kind} {name}", tolerate=(404,)):
                return _as_dict(self.client.get(self._resource(kind), name, namespace=self.namespace))
        except Tolerated:
            return None

    def workload(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """``("Rollout" | "Deployment", object)`` of this name, or None."""
        for kind in ("Rollout", "Deployment"):
            obj = self.get(kind, name)
            if obj is not None:
                return kind, obj
        return None

    def list(self, kind: str, selector: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        res = self._resource(kind)
        with self._errors(f"list {kind}s"):
            items = self.client.list(res, namespace=self.namespace, labels=dict(selector) if selector else None)
            return [_as_dict(obj) for obj in items]

    def patch(self, kind: str, name: str, patch: Any, *, json_patch: bool = False, status: bool = False) -> None:
        """A merge patch (or a JSON patch) of the object, or of a Rollout's status subresource (how Argo's
        own CLI promotes and aborts)."""
        from lightkube.types import PatchType

        res = self._resource(kind)
        if status:
            res = res.Status
        kind_of = PatchType.JSON if json_patch else PatchType.MERGE
        with self._errors(f"patch {kind} {name}{' status' if status else ''}"):
            self.client.patch(res, name, patch, namespace=self.namespace, patch_type=kind_of)

    def create(self, obj: dict[str, Any]) -> bool:
        """Create the object; False when one of that name exists already (so reruns never duplicate)."""
        from lightkube import codecs

        try:
            with self._errors(f"create {obj['kind']} {obj['metadata']['name']}", tolerate=(409,)):
                self.client.create(codecs.from_dict(obj), namespace=self.namespace)
        except Tolerated:
            return False
        return True

    def watch(self, kind: str, selector: Mapping[str, str] | None = None) -> Watch:
        """A watch of one kind in the namespace, running in the background: ``watch.next(seconds)`` gives the
        objects that changed within that time. One connection for the whole wait (not a polling loop);
        lightkube reconnects when the server closes it and restarts from the current state on 410 Gone."""
        return Watch(self, self._resource(kind), kind, selector)


class Watch:
    """Events of one kind, read by a daemon thread into a queue, so that a wait can time out between them."""

    def __init__(self, cluster: Cluster, res: Any, kind: str, selector: Mapping[str, str] | None) -> None:
        self.cluster, self.kind = cluster, kind
        self._queue: queue.Queue[dict[str, Any] | BaseException] = queue.Queue()
        self._stopped = threading.Event()
        labels = dict(selector) if selector else None
        self._thread = threading.Thread(target=self._run, args=(res, labels), daemon=True, name=f"watch-{kind}")
        self._thread.start()

    def _run(self, res: Any, labels: dict[str, str] | None) -> None:
        from lightkube.core.exceptions import ApiError
        from lightkube.types import OnErrorAction, OnErrorResult

        def on_error(error: Exception, count: int) -> OnErrorResult:
            code = getattr(getattr(error, "status", None), "code", None)
            if isinstance(error, ApiError) and code == 410:
                return OnErrorResult(OnErrorAction.RETRY)  # lightkube restarts from the current state
            if count <= 5 and not (isinstance(error, ApiError) and code in (401, 403, 404)):
                return OnErrorResult(OnErrorAction.RETRY, sleep=1.0)
            return OnErrorResult(OnErrorAction.RAISE)

        try:
            with self.cluster._errors(f"watch {self.kind}s"):
                stream = self.cluster.client.watch(
                    res, namespace=self.cluster.namespace, labels=labels, server_timeout=30, on_error=on_error
                )
                for _event, obj in stream:
                    if self._stopped.is_set():
                        return
                    self._queue.put(_as_dict(obj))
        except BaseException as error:  # handed to the waiting thread, which raises it
            self._queue.put(error)

    def next(self, seconds: float) -> list[dict[str, Any]]:
        """The objects that changed in the next ``seconds`` (returns at the first change, with all queued)."""
        items: list[dict[str, Any]] = []
        try:
            first = self._queue.get(timeout=max(0.05, seconds))
        except queue.Empty:
            return items
        pending = [first]
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for item in pending:
            if isinstance(item, BaseException):
                raise item
            items.append(item)
        return items

    def close(self) -> None:
        self._stopped.set()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict) and not hasattr(obj, "to_dict"):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        result = to_dict()
        return dict(result)
    return dict(obj)

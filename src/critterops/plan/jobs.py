"""The jobs a deploy runs besides the rollout, and the order they run in.

Three sources of work, each checked against what the service's code can really run:

- **EF Core migrations** that the app applies only in some environments (``Database.MigrateAsync()``
  under ``IsDevelopment()``, as CritterSupply's identity services do): everywhere else an EF Core
  migration bundle (``dotnet ef migrations bundle``), built into the service's migrations image by the
  kit's ``Dockerfile.migrations``, runs before the rollout. The bundle applies only pending migrations,
  so it runs on every deploy.
- **JasperFx commands** in the service's own image: ``db-apply`` (Weasel.CommandLine ``ApplyCommand``,
  ``[Description(..., Name = "db-apply")]``), ``resources setup`` (JasperFx ``ResourcesCommand`` with
  ``ResourceAction.setup``, src/JasperFx/Resources/ResourceAction.cs) and ``projections rebuild
  --projection <name>`` (JasperFx.Events ``ProjectionsCommand``: the action is a positional argument of
  ``ProjectionAction {list, rebuild, run}`` and ``ProjectionFlag`` becomes ``--projection``/``-p`` by
  InputParser.ToFlagAliases; JasperFx V2.54.0). Not ``projections --rebuild``: no such flag exists.
  They run only when ``Program.cs`` ends with ``return await app.RunJasperFxCommands(args);``;
  otherwise the job is listed without a command and a warning names that change.
- **Projection rebuilds** of changed inline projections, after the rollout. The deploy waits for the
  rebuild to finish (its own, longer budget) instead of failing the deploy while it catches up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from critterops.model import Finding, Job, Service
from critterops.model.environments import applies_in, aspnet_environment

ORDER: Final = {
    "before-rollout": (
        "the deploy workflow applies it, waits until it completes and only then applies the Rollouts; "
        "under Argo CD its sync wave (0, Rollouts 1) does the same"
    ),
    "after-rollout": (
        "the deploy workflow runs it once every Rollout is healthy and waits for it; under Argo CD its sync "
        "wave (2) runs after the Rollouts are healthy"
    ),
}
_DNS: Final = re.compile(r"[^a-z0-9-]+")
MIGRATION_TIMEOUT_S: Final = 600
_MIGRATION_RULES: Final = ("migration-additive", "migration-destructive")
REBUILD_TIMEOUT_S: Final = 3600
BUNDLE_DIR: Final = "/efbundles"
COMMAND_LINE_FIX: Final = (
    "end Program.cs with `return await app.RunJasperFxCommands(args);` (instead of `app.Run();`) so that "
    "the image can run JasperFx commands"
)


def bundle_path(context: str) -> str:
    """Where the migrations image keeps the bundle of one DbContext."""
    return f"{BUNDLE_DIR}/{context}"


def needs_migration_job(service: Service, env: str) -> bool:
    """EF Core migrations exist and the app does not apply them itself when it runs in ``env``."""
    ef = service.ef_core
    if ef is None or not ef.migrations:
        return False
    return ef.applied_at_startup is None or not applies_in(ef.applied_at_startup, aspnet_environment(env))


def migration_contexts(service: Service) -> list[str]:
    """The DbContexts that have migrations (one bundle each); the only context when migrations name none."""
    ef = service.ef_core
    if ef is None:
        return []
    named = sorted({m.context for m in ef.migrations if m.context})
    if named:
        return named
    return list(ef.contexts[:1]) or ["DbContext"]


def _jasperfx(service: Service, kind: str, when: str, description: str, args: tuple[str, ...], **extra: object) -> Job:
    if service.command_line is None:
        return Job(
            kind,
            when,
            description,
            (),
            order=ORDER[when],
            warning=f"{service.name}: cannot run `{' '.join(args)}` from its image: {COMMAND_LINE_FIX}",
            **extra,  # type: ignore[arg-type]
        )
    return Job(kind, when, description, args, order=ORDER[when], **extra)  # type: ignore[arg-type]


def service_jobs(service: Service, env: str, findings: Sequence[Finding] = ()) -> list[Job]:
    """Every job one service's deploy to ``env`` runs, in order: before the rollout, then after it."""
    jobs: list[Job] = []
    if needs_migration_job(service, env):
        startup = service.ef_core.applied_at_startup if service.ef_core else None
        why = f"the app applies them only when {startup}" if startup else "the app never applies them"
        changed = [
            f for f in findings if f.rule in _MIGRATION_RULES and service.name in f.services and f.fact("migration")
        ]
        for context in migration_contexts(service):
            new = [f.fact("migration") for f in changed if f.fact("context") in ("", context)]
            pending = f" ({', '.join(new)} in this change)" if new else ""
            jobs.append(
                Job(
                    "ef-migrations",
                    "before-rollout",
                    f"apply pending EF Core migrations of {context}{pending}: {why}; the bundle skips applied ones",
                    (bundle_path(context),),
                    image="migrations",
                    target=context,
                    timeout_s=MIGRATION_TIMEOUT_S,
                    order=ORDER["before-rollout"],
                )
            )
    for finding in findings:
        if service.name not in finding.services:
            continue
        if finding.rule == "projection-changed" and finding.fact("rebuild") == "true":
            name = finding.fact("projection")
            if finding.fact("lifecycle") == "Async":
                continue  # the async daemon rebuilds it on the new version: a catch-up gate, not a job
            jobs.append(
                _jasperfx(
                    service,
                    "projection-rebuild",
                    "after-rollout",
                    f"rebuild inline projection {name}; the deploy waits up to {REBUILD_TIMEOUT_S // 60} min for it",
                    ("projections", "rebuild", "--projection", name),
                    target=name,
                    timeout_s=REBUILD_TIMEOUT_S,
                )
            )
    return jobs


def job_name(service: Service, job: Job) -> str:
    """The Kubernetes Job's name: stable across deploys (the deploy replaces it), unique per service."""
    suffix = {"ef-migrations": "migrate", "db-apply": "db-apply", "resources-setup": "resources"}.get(job.kind)
    if suffix is None:
        suffix = f"rebuild-{(job.target or 'all').lower()}"
    if job.kind == "ef-migrations" and len(migration_contexts(service)) > 1 and job.target:
        suffix = f"migrate-{job.target.lower()}"
    return _DNS.sub("-", f"{service.name}-{suffix}".lower())[:63].strip("-")

"""RabbitMQ: queues a service listens to without a consumer, the shared dead-letter queue, the broker down.

The queue alert applies per service, to exactly the queues it listens to; the other two apply once
when any service talks to RabbitMQ. Queue series come from the exporter (management API) or the
broker's ``rabbitmq_prometheus`` plugin; reachability from the exporter's ``critterops_source_up``.
"""

from __future__ import annotations

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, exporter_labels, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import logs, pods, queries, restart, roll_back, sh
from critterops.generate.alerts.storage import DEAD_LETTER_LIMIT
from critterops.generate.collector import EXPORTER_JOB
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, any_of, wrap
from critterops.generate.traits import rabbit_queues, rabbitmq_name
from critterops.model import Service


def _broker(covered: Covered) -> str:
    return rabbitmq_name(covered.ctx.system) or "rabbitmq"


# -- RabbitMqQueueWithoutConsumers ------------------------------------------------------------------------------


def _no_consumers_rule(ctx: KitContext, service: Service) -> list[Rule]:
    queues = rabbit_queues(service)
    if not queues:
        return []
    q = {**FIXTURE_ENV, "vhost": "/", "queue": queues[0]}
    quiet = [Sample(sel(m.QUEUE_MESSAGES, q), "25x30"), Sample(sel(m.QUEUE_CONSUMERS, q), "1x30")]
    if len(queues) > 1:
        idle = {**FIXTURE_ENV, "vhost": "/", "queue": queues[1]}
        quiet += [Sample(sel(m.QUEUE_MESSAGES, idle), "0x30"), Sample(sel(m.QUEUE_CONSUMERS, idle), "0x30")]
    messages = any_of(m.QUEUE_MESSAGES, "queue", queues, "    ")
    consumers = any_of(m.QUEUE_CONSUMERS, "queue", queues, "    ")
    return [
        Rule(
            service.name,
            f"max by (environment, vhost, queue) (\n    {messages}\n) > 0\n"
            "and on (environment, vhost, queue)\n"
            f"max by (environment, vhost, queue) (\n    {consumers}\n) == 0",
            f"Queue {{{{ $labels.queue }}}} has messages and no consumer ({service.name})",
            wrap(
                f"{{{{ $value | humanize }}}} messages wait in RabbitMQ queue {{{{ $labels.queue }}}} and nothing has "
                f"consumed it for 5 minutes: {service.name} is down, lost its broker connection, or its listener is "
                "paused by a circuit breaker."
            ),
            Case(
                (Sample(sel(m.QUEUE_MESSAGES, q), "25x30"), Sample(sel(m.QUEUE_CONSUMERS, q), "0x30")),
                "10m",
                items(q),
                25,
            ),
            Case(tuple(quiet), "10m"),
            subject=f"{len(queues)} queue{'s' if len(queues) > 1 else ''}",
            scope=tuple(f"queue={queue}" for queue in queues),
        )
    ]


def _no_consumers_diagnosis(covered: Covered) -> list[str]:
    broker = _broker(covered)
    return [
        "Which queues, and whose:",
        "",
        *[f"- `{s.name}` consumes " + ", ".join(f"`{q}`" for q in rabbit_queues(s)) for s in covered.services],
        "",
        *sh(
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl list_queues -p / name messages messages_ready consumers",
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl list_consumers -p /",
        ),
        "Is the consumer (`$SVC`) running and connected?",
        "",
        *sh(
            f"kubectl -n $NS get pods {pods('$SVC')}",
            logs("$SVC", "RabbitMQ|BrokerUnreachable|circuit|Connection|Listener"),
        ),
    ]


QUEUE_WITHOUT_CONSUMERS = AlertRecord(
    name="RabbitMqQueueWithoutConsumers",
    concern="rabbitmq",
    severity="critical",
    for_="5m",
    pending_at="2m",
    per_service=_no_consumers_rule,
    runbook=Runbook(
        meaning="A RabbitMQ queue that a service listens to holds messages and has had no consumer for 5 minutes.",
        symptoms=(
            "- The queue's message count grows; the consuming service does nothing with them.",
            "- Typical causes: the service is down or crash-looping, it lost its broker connection and did not "
            "reconnect, or Wolverine paused the listener (circuit breaker after repeated failures).",
        ),
        impact=(
            "- Everything this service does in response to these messages stops; upstream sagas wait.",
            "- Messages are kept (durable queues) until a consumer returns, unless they expire or hit a length limit.",
        ),
        diagnosis=_no_consumers_diagnosis,
        remediation=lambda c: [
            "- **Pods not running / crash-looping**: fix that first (`kubectl -n $NS describe pod ...`, logs of the "
            "previous container: `--previous`).",
            "- **Running, no connection, or listener paused by the circuit breaker**: restart; Wolverine reconnects "
            "and restarts listeners on startup:",
            "",
            *sh(restart(c.ctx, "$SVC")),
            "- **Credentials rotated or vhost permissions changed**: fix the secret, then restart.",
        ],
        rollback=roll_back(
            "If the new version stopped listening to the queue (renamed), roll back until the rename is done "
            "expand/contract."
        ),
        escalation=lambda c: [
            f"- Service will not start or connect within 15 minutes: {c.owners}.",
            "- Broker-side problems (connections refused, alarms): the platform on-call that runs RabbitMQ.",
        ],
    ),
)


# -- RabbitMqDeadLetterQueueHigh --------------------------------------------------------------------------------


def _dlq_rule(ctx: KitContext) -> list[Rule]:
    broker = rabbitmq_name(ctx.system)
    if not broker:
        return []
    q = {**FIXTURE_ENV, "vhost": "/", "queue": m.RABBITMQ_DLQ}
    return [
        Rule(
            broker,
            agg("max by (environment, vhost, queue)", f'{m.QUEUE_MESSAGES}{{queue="{m.RABBITMQ_DLQ}"}}')
            + f" > {DEAD_LETTER_LIMIT}",
            f"RabbitMQ dead-letter queue holds more than {DEAD_LETTER_LIMIT} messages",
            wrap(
                f"{{{{ $value | humanize }}}} messages are in {m.RABBITMQ_DLQ} (vhost {{{{ $labels.vhost }}}}), "
                "the dead-letter queue every Wolverine listener shares: messages that failed every retry in any "
                "service."
            ),
            Case((Sample(sel(m.QUEUE_MESSAGES, q, exporter_labels()), "150x30"),), "10m", items(q), 150),
            Case((Sample(sel(m.QUEUE_MESSAGES, q, exporter_labels()), "20x30"),), "10m"),
        )
    ]


def _dlq_diagnosis(covered: Covered) -> list[str]:
    broker = _broker(covered)
    consumers = sorted(
        {(lst.queue, s.name) for s in covered.ctx.deployable() for lst in s.listens if lst.transport == "rabbitmq"}
    )
    return [
        "Which queue did they come from? The `x-death` header names it, and Wolverine adds the exception:",
        "",
        *sh(
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqadmin get queue={m.RABBITMQ_DLQ} count=20 "
            "ackmode=ack_requeue_true -f pretty_json | jq '.[] | {routing_key, headers: .properties.headers}'",
        ),
        "Queues and the services consuming them:",
        "",
        *[f"- `{queue}`: `{service}`" for queue, service in consumers],
        "",
        "Then diagnose the failing service as in "
        "[WolverineHandlerFailureRateHigh](WolverineHandlerFailureRateHigh.md).",
    ]


def _dlq_remediation(covered: Covered) -> list[str]:
    broker = _broker(covered)
    return [
        "1. Fix the cause in the failing service.",
        "2. Move the messages back to their queue. The queue is shared, so move only when every message comes "
        "from the same queue (check `x-death`); otherwise republish them selectively with a script.",
        "",
        *sh(
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl set_parameter shovel dlq-replay \\",
            '  \'{"src-uri": "amqp://", "src-queue": "' + m.RABBITMQ_DLQ + '", '
            '"dest-uri": "amqp://", "dest-queue": "<original queue>", "src-delete-after": "queue-length"}\'',
        ),
        '(needs the `rabbitmq_shovel` plugin; the management UI\'s "Move messages" does the same.)',
        "3. Purge only what must not run again, after saving it:",
        "",
        *sh(f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl purge_queue {m.RABBITMQ_DLQ} -p /"),
    ]


DEAD_LETTER_QUEUE_HIGH = AlertRecord(
    name="RabbitMqDeadLetterQueueHigh",
    concern="rabbitmq",
    severity="warning",
    for_="5m",
    pending_at="2m",
    per_system=_dlq_rule,
    runbook=Runbook(
        meaning=f"More than {DEAD_LETTER_LIMIT} messages are in `{m.RABBITMQ_DLQ}`, the dead-letter queue (and "
        "exchange) every Wolverine listener on the broker shares: messages that failed every retry in any service.",
        symptoms=(
            "- Handler errors in one or more services; their messages end up here instead of "
            "`wolverine_dead_letters` (durable local queues use the table).",
        ),
        impact=("- Each message is a business action that did not happen; they wait here until moved or purged.",),
        diagnosis=_dlq_diagnosis,
        remediation=_dlq_remediation,
        rollback=(
            "Roll back the service whose messages fail if a deploy started it (see its handler-failure runbook).",
        ),
        escalation=("- The team owning the failing service; the broker on-call only for shovel or plugin problems.",),
    ),
)


# -- RabbitMqDown -----------------------------------------------------------------------------------------------


def _down_rule(ctx: KitContext) -> list[Rule]:
    broker = rabbitmq_name(ctx.system)
    if not broker:
        return []
    exp = {**FIXTURE_ENV, "job": EXPORTER_JOB}
    rmq = {**exp, "target": "rabbitmq"}
    return [
        Rule(
            broker,
            f'max by (environment, job) ({m.SOURCE_UP}{{target="rabbitmq"}}) == 0',
            "RabbitMQ is unreachable",
            wrap(
                "critterops-exporter cannot reach the RabbitMQ management API. If the broker is down, every service's "
                "outbox grows, listeners stop and HTTP endpoints that publish without an outbox fail."
            ),
            Case((Sample(sel(m.SOURCE_UP, rmq), "0x30"),), "5m", items(exp), 0),
            Case((Sample(sel(m.SOURCE_UP, rmq), "1x30"),), "5m"),
        )
    ]


def _down_symptoms(covered: Covered) -> list[str]:
    users = sorted(s.name for s in covered.ctx.deployable() if s.wolverine and "rabbitmq" in s.wolverine.transports)
    return [
        "- Services log connection errors to RabbitMQ; queue metrics stop.",
        "- Services affected: " + ", ".join(f"`{s}`" for s in users) + ".",
    ]


def _down_diagnosis(covered: Covered) -> list[str]:
    broker = _broker(covered)
    return [
        *sh(
            f"kubectl -n $NS get pods -l app.kubernetes.io/name={broker} -o wide",
            f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q ping",
            f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q alarms   # disk alarms block publishers",
            f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q status",
        ),
        "Only the exporter affected? Check its errors (wrong credentials or address):",
        "",
        *queries(f'increase({m.SCRAPE_ERRORS}{{target="rabbitmq"}}[10m])'),
        "Managed broker outside the cluster: check the provider's status page and the broker's address in the "
        "services' configuration (`RabbitMQ__hostname`).",
    ]


def _down_remediation(covered: Covered) -> list[str]:
    return [
        "- **Pod down or crash-looping**: check events and the data volume (`kubectl -n $NS describe pod "
        f"{_broker(covered)}-0`); a full disk triggers the disk alarm.",
        "- **Disk or memory alarm**: free disk (purge queues nobody consumes, see "
        "[RabbitMqQueueWithoutConsumers](RabbitMqQueueWithoutConsumers.md)) or raise the limit.",
        "- **Broker fine, exporter refused**: fix the exporter's credentials.",
        "- After recovery: outboxes drain by themselves; watch "
        f"`sum by (service) ({covered.ctx.policy.metrics.outbox_backlog})` fall.",
    ]


DOWN = AlertRecord(
    name="RabbitMqDown",
    concern="rabbitmq",
    severity="critical",
    for_="2m",
    pending_at="1m",
    per_system=_down_rule,
    runbook=Runbook(
        meaning="critterops-exporter cannot reach the RabbitMQ management API for 2 minutes: the broker is down, "
        "unreachable, or refusing the exporter's credentials.",
        symptoms=_down_symptoms,
        impact=(
            "- Durable outboxes grow (messages wait in PostgreSQL and go out when the broker returns).",
            "- Listeners stop; non-durable sends and HTTP endpoints that publish without an outbox fail.",
        ),
        diagnosis=_down_diagnosis,
        remediation=_down_remediation,
        rollback=("No application rollback: this is infrastructure.",),
        escalation=("- Immediately: the platform on-call that runs RabbitMQ. Managed broker: the provider's support.",),
    ),
)

RECORDS = (QUEUE_WITHOUT_CONSUMERS, DEAD_LETTER_QUEUE_HIGH, DOWN)

"""A telemetry stand-in for one pod: the instruments a real Critter Stack service emits, sent as OTLP.

    python -m critterops.lab.standin --service payments-api --instance payments-api-7d9f-abcde --version 7d9f \
        --endpoint http://127.0.0.1:24318 [--errors 0.2] [--handler-failures 0.3] [--rps 20]

No .NET runs in the lab, so this process plays one pod: the OpenTelemetry SDK with the resource a pod
of the kit has (``service.name``, ``service.instance.id`` = the pod's name, ``service.version`` = its
pod-template hash) and exactly the instruments, units, kinds and attributes of the real sources:

- ASP.NET Core (meter ``Microsoft.AspNetCore.Hosting``): ``http.server.request.duration``, histogram,
  unit ``s``, attributes ``url.scheme``, ``http.request.method``, ``network.protocol.version``,
  ``http.response.status_code``, ``http.route``; bucket advice ShortSecondsBucketBoundaries.
  dotnet/aspnetcore src/Hosting/Hosting/src/Internal/HostingMetrics.cs:29-33 (instrument), 58-89 and
  104-108 (attributes); src/Shared/Metrics/MetricsConstants.cs:9 (buckets).
- Wolverine V5.40.1 (meter ``"Wolverine:" + ServiceName``, src/Wolverine/Runtime/WolverineRuntime.cs:81;
  names in src/Wolverine/MetricsConstants.cs:5-25, declared in WolverineRuntime.cs:106-124):
  ``wolverine-messages-sent``, ``wolverine-messages-succeeded``, ``wolverine-execution-failure``
  (+ ``exception.type``), ``wolverine-dead-letter-queue``, ``wolverine-messages-received`` — counters,
  unit ``Messages``; ``wolverine-execution-time`` and ``wolverine-effective-time`` — histograms, unit
  ``Milliseconds`` (no bucket advice: the SDK's defaults); ``wolverine-inbox-count``,
  ``wolverine-outbox-count``, ``wolverine-scheduled-count`` — observable gauges, unit ``Messages``
  (src/Wolverine/Persistence/PersistenceMetrics.cs:30-35). Tags ``message.type``,
  ``message.destination`` (src/Wolverine/Envelope.Internals.cs:157-171), ``source`` on sent/received
  (src/Wolverine/Runtime/Tracking.cs:62-95).

It runs until killed (or ``--seconds``), recording ``--rps`` requests and handled messages a second
with the given failure shares and typical handling time (``--handler-latency``), and exports every second
(cumulative temporality, as .NET's OTLP exporter does by default).

``--role-file`` plays a consumer that honours critterops' preview contract (critterops.plan.consumers): while
the file reads ``preview`` its listeners are held, so it receives and handles nothing and records none of the
message instruments (its gauges still report, as Wolverine's persistence gauges do); once the file reads
anything else it consumes. The lab writes the file from the pod's ``critterops.dev/role`` label, as the
kubelet's downward API does in a real cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import time

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

ASPNETCORE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--resource", default="", help="the pod's OTEL_RESOURCE_ATTRIBUTES (k=v,k=v)")
    parser.add_argument("--endpoint", required=True, help="OTLP/HTTP base URL of the collector")
    parser.add_argument("--errors", type=float, default=0.0, help="share of HTTP requests answered 5xx")
    parser.add_argument("--handler-failures", type=float, default=0.0, help="share of messages that fail")
    parser.add_argument("--dead-letters", type=float, default=0.0, help="share of messages dead-lettered")
    parser.add_argument("--latency", type=float, default=0.03, help="typical request duration in seconds")
    parser.add_argument("--handler-latency", type=float, default=12.0, help="typical handling time in milliseconds")
    parser.add_argument(
        "--role-file", default=None, help="CRITTEROPS_ROLE_FILE: hold the listeners while it reads preview"
    )
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--wolverine-service-name", default=None, help="ServiceName (default: the assembly's)")
    args = parser.parse_args(argv)

    # what the .NET SDK reads: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the pod's, as the kit sets them)
    attributes = {"service.name": args.service, "service.instance.id": args.instance, "service.version": args.version}
    attributes.update(dict(item.split("=", 1) for item in args.resource.split(",") if "=" in item))
    resource = Resource.create(attributes)
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=args.endpoint.rstrip("/") + "/v1/metrics"), export_interval_millis=1000
    )
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    hosting = provider.get_meter("Microsoft.AspNetCore.Hosting")
    duration = hosting.create_histogram(
        "http.server.request.duration",
        unit="s",
        description="Duration of HTTP server requests.",
        explicit_bucket_boundaries_advisory=ASPNETCORE_BUCKETS,
    )
    wolverine = provider.get_meter("Wolverine:" + (args.wolverine_service_name or args.service.title()), "5.40.1")
    sent = wolverine.create_counter("wolverine-messages-sent", unit="Messages", description="Number of messages sent")
    succeeded = wolverine.create_counter(
        "wolverine-messages-succeeded", unit="Messages", description="Number of messages successfully processed"
    )
    failed = wolverine.create_counter(
        "wolverine-execution-failure", unit="Messages", description="Number of message execution failures"
    )
    dead = wolverine.create_counter(
        "wolverine-dead-letter-queue", unit="Messages", description="Number of messages moved to dead letter queues"
    )
    received = wolverine.create_counter(
        "wolverine-messages-received",
        unit="Messages",
        description="Number of messages received from external transports",
    )
    execution = wolverine.create_histogram(
        "wolverine-execution-time", unit="Milliseconds", description="Execution time in milliseconds"
    )
    effective = wolverine.create_histogram(
        "wolverine-effective-time",
        unit="Milliseconds",
        description="Effective time between a message being sent and being completely handled in milliseconds",
    )

    def zero(_: CallbackOptions) -> list[Observation]:
        return [Observation(0)]

    for name, what in (
        ("wolverine-inbox-count", "Inbox"),
        ("wolverine-outbox-count", "Outbox"),
        ("wolverine-scheduled-count", "Scheduled"),
    ):
        wolverine.create_observable_gauge(name, callbacks=[zero], unit="Messages", description=f"{what} messages")

    message = {
        "message.type": f"{args.service.split('-')[0].title()}.Requested",
        "message.destination": "rabbitmq://queue/" + args.service,
    }
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    rng = random.Random(args.instance)
    deadline = time.monotonic() + args.seconds
    tick = 1.0 / max(args.rps, 0.1)

    def held() -> bool:
        if not args.role_file:
            return False
        with contextlib.suppress(OSError), open(args.role_file, encoding="utf-8") as role:
            return role.read().strip() == "preview"
        return False

    while not stop and time.monotonic() < deadline:
        if held():
            time.sleep(tick)
            continue
        status = 500 if rng.random() < args.errors else 200
        duration.record(
            max(0.001, rng.expovariate(1 / args.latency)),
            {
                "url.scheme": "http",
                "http.request.method": "GET",
                "network.protocol.version": "1.1",
                "http.response.status_code": status,
                "http.route": "/api/items/{id}",
            },
        )
        received.add(1, {**message, "source": args.service})
        execution.record(max(1, int(rng.expovariate(1 / args.handler_latency))), message)
        if rng.random() < args.handler_failures:
            failed.add(1, {**message, "exception.type": "InvalidOperationException"})
            if rng.random() < args.dead_letters / max(args.handler_failures, 1e-9):
                dead.add(1, message)
        else:
            succeeded.add(1, message)
            effective.record(rng.uniform(5, 80), message)
            sent.add(1, {**message, "source": args.service})
        time.sleep(tick)
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

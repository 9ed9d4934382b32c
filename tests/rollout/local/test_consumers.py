"""``critterops deploy --queue``: consumer rollouts end to end against the real RabbitMQ on loopback.

Real processes (the stand-in Wolverine listener, ``critterops.rollout.demo_consumer``), real broker, real
publisher confirms. Every test publishes its own messages with ids and checks, at the end, that each one
was handled or dead-lettered (no loss), by id.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.rollout.local.rabbit import Management, Publisher, account, drain_dead_letters, read_ledger
from tests.watch.conftest import Rabbit


@pytest.fixture
def work() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="crit-con-", dir="/tmp"))
    yield folder
    state = folder / "state"
    for service in state.iterdir() if state.exists() else []:
        if (service / "rollout.json").exists():
            cli(state, "stop", "--service", service.name)
    shutil.rmtree(folder, ignore_errors=True)


def amqp(rabbit: Rabbit) -> str:
    return f"amqp://{rabbit.user}:{rabbit.password}@127.0.0.1:{rabbit.amqp_port}/%2F"


def cli(state: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", *args, "--state-dir", str(state)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def consumer(rabbit: Rabbit, queue: str, ledger: Path, version: str, *extra: str) -> str:
    return (
        f"{sys.executable} -m critterops.rollout.demo_consumer --amqp {amqp(rabbit)} --queue {queue} "
        f"--ledger {ledger} --version {version} --latency-ms 4 --jitter-ms 1 --failure-rate 0.005 {' '.join(extra)}"
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    text = result.stdout
    assert "{\n" in text, result.stdout + result.stderr
    data: dict = json.loads(text[text.index("{\n") :])  # type: ignore[type-arg]
    return data


def rollout(
    rabbit: Rabbit, work: Path, queue: str, canary_extra: tuple[str, ...] = (), *args: str
) -> tuple[subprocess.CompletedProcess[str], Publisher]:
    ledger = work / "ledger"
    # the queue must exist before the publisher's first mandatory publish: the stable version declares it
    publisher = Publisher(amqp(rabbit), queue, 250, record=work / "published", prefix=queue)
    argv = [
        "--service", "worker", "--queue", queue, "--amqp", amqp(rabbit), "--management", rabbit.management_url,
        "--stable", consumer(rabbit, queue, ledger, "v1"),
        "--canary", consumer(rabbit, queue, ledger, "v2", *canary_extra),
        "--interval", "1s", "--pause", "3s", "--drain-timeout", "20s", "--format", "json", *args,
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "critterops.cli", "deploy", *argv, "--state-dir", str(work / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert Management(rabbit.management_url).wait_for_queue(queue), f"{queue} was never declared"
    publisher.start()
    out, err = process.communicate(timeout=240)
    publisher.stop()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), publisher


def settle_and_account(rabbit: Rabbit, work: Path, queue: str) -> dict:  # type: ignore[type-arg]
    """Let the running version empty the queue, stop everything, then check every published id."""
    Management(rabbit.management_url).wait_for_queue(queue, empty=True)
    cli(work / "state", "stop", "--service", "worker")
    published = (work / "published").read_text().split()
    dead = [i for i in drain_dead_letters(amqp(rabbit)) if i.startswith(queue)]
    ledger = [row for row in read_ledger(work / "ledger") if row[0].startswith(queue)]
    # the broker's queue statistics lag a second: what a stopping version handed back may still wait there
    queued = drain_dead_letters(amqp(rabbit), queue)
    return account(published, ledger, dead, queued).as_dict()


def test_a_good_consumer_canary_is_promoted_and_its_share_follows_the_listeners(
    rabbit: Rabbit, work: Path, unique: str
) -> None:
    queue = f"canary-good-{unique}"
    result, publisher = rollout(rabbit, work, queue, (), "--steps", "10,50")
    data = summary(result)
    assert result.returncode == 0, data["reason"]
    assert data["phase"] == "Healthy"
    shares = {s["weight"]: s for s in data["message_share"]}
    # the stable count is chosen for the steps (8 beside 1 for 10 %, 8 beside 8 for 50 %)
    for weight, step in shares.items():
        listeners = step["canary_listeners"] / (step["canary_listeners"] + step["stable_listeners"])
        assert step["messages"] > 200, step
        assert abs(step["realised"] - listeners) < 0.06, (weight, step)
    messages = [e["message"] for e in data["events"]]
    assert any("drained and stopped" in m for m in messages), messages
    accounting = settle_and_account(rabbit, work, queue)
    assert not publisher.errors
    assert accounting["published"] > 1000
    assert accounting["lost"] == 0, accounting
    assert set(accounting["handled_by_version"]) == {"v1", "v2"}


def test_a_consumer_canary_failing_its_handlers_is_rolled_back_without_losing_a_message(
    rabbit: Rabbit, work: Path, unique: str
) -> None:
    queue = f"canary-bad-{unique}"
    result, _ = rollout(rabbit, work, queue, ("--failure-rate", "0.08"), "--steps", "25,50")
    data = summary(result)
    assert result.returncode != 0
    assert data["phase"] == "Degraded", data["reason"]
    assert "Canary errors more often" in data["reason"], data["reason"]
    accounting = settle_and_account(rabbit, work, queue)
    assert accounting["lost"] == 0, accounting
    assert accounting["dead_lettered"] > 0  # the canary's poison messages went to wolverine-dead-letter-queue


def test_a_consumer_preview_consumes_nothing_until_the_switch(rabbit: Rabbit, work: Path, unique: str) -> None:
    queue = f"bg-{unique}"
    # no poison messages in the new version: this test is about isolation, and after the switch blue/green is
    # judged per look against the policy's 2 % of failed attempts, which 0.5 % poison (3 attempts each) nears
    result, _ = rollout(rabbit, work, queue, ("--failure-rate", "0"), "--strategy", "bluegreen")
    data = summary(result)
    assert data["phase"] == "Healthy", data["reason"]
    switched = next(e["t"] for e in data["events"] if e["message"].startswith("switched"))
    assert switched > 0
    accounting = settle_and_account(rabbit, work, queue)
    assert accounting["lost"] == 0, accounting
    assert accounting["handled_by_version"].get("v2", 0) > 0


def test_a_preview_that_does_not_hold_its_listeners_is_rolled_back(rabbit: Rabbit, work: Path, unique: str) -> None:
    queue = f"bg-leaky-{unique}"
    result, _ = rollout(rabbit, work, queue, ("--ignore-role",), "--strategy", "bluegreen")
    data = summary(result)
    assert data["phase"] == "Degraded"
    assert "preview consumes live messages" in data["reason"], data["reason"]
    accounting = settle_and_account(rabbit, work, queue)
    assert accounting["lost"] == 0, accounting


def test_bad_input_gets_a_clear_error(rabbit: Rabbit, work: Path) -> None:
    result = cli(
        work / "state",
        "--service", "worker", "--queue", "q", "--stable", "true", "--canary", "true",
        "--listeners", "-2",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--listeners" in result.stderr and "Traceback" not in result.stderr


def test_a_drain_waits_for_the_outbox_and_reports_it(rabbit: Rabbit, work: Path, unique: str, pg_database: str) -> None:
    import psycopg

    from tests.watch import critter_tables

    with psycopg.connect(pg_database, autocommit=True) as conn:
        critter_tables.create_wolverine(conn, "wolverine")
    queue = f"outbox-{unique}"
    outbox = ("--outbox-dsn", f"'{pg_database}'", "--outbox-send-ms", "300")
    result, _ = rollout(
        rabbit, work, queue, outbox, "--steps", "10,50", "--outbox", pg_database, "--strategy", "canary"
    )
    data = summary(result)
    assert data["phase"] == "Healthy", data["reason"]
    drains = [e["message"] for e in data["events"] if "drained and stopped" in e["message"]]
    # the canary's 10 % process (1 listener) is drained when 50 % starts a new one; only canaries have an outbox
    assert any("its outbox: drained (node(s)" in m for m in drains), drains


def test_rows_left_by_a_vanished_node_are_reported_as_undrained(pg_database: str) -> None:
    import psycopg

    from critterops.rollout.local.outbox import OutboxWatch
    from tests.watch import critter_tables

    with psycopg.connect(pg_database, autocommit=True) as conn:
        critter_tables.create_wolverine(conn, "wolverine")
        node_id, number = critter_tables.add_node(conn, "wolverine")
        _other_id, other = critter_tables.add_node(conn, "wolverine")
        critter_tables.add_outgoing(conn, "wolverine", 3, destination="rabbitmq://queue/x", owner_id=number)
        watch = OutboxWatch(pg_database)
        before = watch.nodes()
        assert before == {number, other}
        critter_tables.remove_node(conn, "wolverine", node_id)  # a crash: the rows stay owned
    gone, left, waited = watch.wait_released(before, timeout=1.0)
    assert gone == {number} and left == 3 and waited >= 1.0

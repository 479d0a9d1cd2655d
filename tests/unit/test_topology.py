"""What taskhook declares, as data: names, arguments, and how `taskhook topology` shows it."""

from typing import Any

import pytest

from taskhook import bootstrap
from taskhook.broker.topology import (
    AT_LEAST_ONCE,
    DELIVERY_LIMIT,
    ArchiveRetention,
    BindingSpec,
    ConsumerTopology,
    ExchangeBindingSpec,
    ExchangeSpec,
    Topology,
)
from taskhook.settings import CommonSettings
from taskhook.tools.columns import columns
from taskhook.tools.provision import describe

EVENTS = Topology("ev")
AUDIT = ConsumerTopology(EVENTS, "audit", ("task.completed.*", "task.failed.*"), (1000, 60000))


def test_the_events_topology_routes_what_nobody_binds_to_the_unrouted_queue() -> None:
    declared = EVENTS.declarations()
    exchanges = {spec.name: spec for spec in declared.exchanges}
    assert [spec.name for spec in declared.exchanges] == ["ev.unrouted", "ev"]
    assert exchanges["ev"].arguments == {"alternate-exchange": "ev.unrouted"}
    assert [spec.name for spec in declared.queues] == ["ev.unrouted", "ev.rejected"]
    assert declared.bindings == (BindingSpec("ev.unrouted", "ev.unrouted"),)


def test_a_consumer_declares_the_events_topology_then_its_own_queues_and_bindings() -> None:
    declared = AUDIT.declarations()
    queues = {spec.name: spec.arguments for spec in declared.queues}
    assert list(queues) == [
        "ev.unrouted",
        "ev.rejected",
        "taskhook.ev.audit.dead",
        "taskhook.ev.audit",
        "taskhook.ev.audit.retry.1000ms",
        "taskhook.ev.audit.retry.60000ms",
    ]
    assert queues["taskhook.ev.audit"] == {
        "x-queue-type": "quorum",
        **AT_LEAST_ONCE,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "taskhook.ev.audit.dead",
        "x-delivery-limit": DELIVERY_LIMIT,
    }
    assert queues["taskhook.ev.audit.retry.60000ms"]["x-message-ttl"] == 60000
    assert (
        queues["taskhook.ev.audit.retry.60000ms"]["x-dead-letter-routing-key"]
        == "taskhook.ev.audit"
    )
    assert declared.bindings[1:] == (
        BindingSpec("ev", "taskhook.ev.audit", "task.completed.*"),
        BindingSpec("ev", "taskhook.ev.audit", "task.failed.*"),
    )


def test_two_consumers_share_one_events_topology() -> None:
    other = ConsumerTopology(EVENTS, "tasks", ("task.#",), (1000,))
    declared = AUDIT.declarations() + other.declarations()
    names = [spec.name for spec in declared.queues]
    assert len(names) == len(set(names))
    assert [spec.name for spec in declared.exchanges] == ["ev.unrouted", "ev"]
    assert BindingSpec("ev", "taskhook.ev.tasks", "task.#") in declared.bindings


@pytest.mark.parametrize(
    ("exchange", "queue"),
    [
        ("livepeer.tasks", "taskhook.audit"),  # the default: the names every deployment has
        ("staging.tasks", "taskhook.staging.tasks.audit"),
    ],
)
def test_consumer_queues_are_named_for_their_exchange_unless_it_is_the_default(
    exchange: str, queue: str
) -> None:
    events = Topology(exchange)
    audit = ConsumerTopology(events, "audit", ("task.#",), (1000,))
    assert (audit.queue, audit.dead_queue, audit.retry_queue(1000)) == (
        queue,
        f"{queue}.dead",
        f"{queue}.retry.1000ms",
    )
    held = events.held_queue(f"{queue}.dead")
    assert held is not None
    assert (held.kind, held.home_queue) == ("dead", queue)
    other = "taskhook.other.audit.dead" if exchange == "livepeer.tasks" else "taskhook.audit.dead"
    assert events.held_queue(other) is None  # another deployment's dead queue is not ours


def test_names_too_long_for_amqp_are_refused_when_the_topology_is_made() -> None:
    with pytest.raises(ValueError, match="over 255 bytes"):
        ConsumerTopology(Topology("x" * 200), "a" * 60, ("#",), (86_400_000,))


def test_the_printed_topology_has_a_line_for_each_thing_declared() -> None:
    lines = describe(EVENTS.declarations())
    assert [line.split() for line in lines] == [
        ["exchange", "ev.unrouted", "fanout"],
        ["exchange", "ev", "topic", "alternate-exchange=ev.unrouted"],
        ["queue", "ev.unrouted", "x-queue-type=quorum"],
        ["queue", "ev.rejected", "x-queue-type=quorum"],
        ["binding", "ev.unrouted", "->", "ev.unrouted"],
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], []),
        ([("a", "x")], ["a  x"]),
        ([("a", "", "last"), ("long", "b", "")], ["a        last", "long  b"]),
    ],
)
def test_columns_pad_every_column_but_the_last(
    rows: list[tuple[str, ...]], expected: list[str]
) -> None:
    assert columns(rows) == expected


def test_the_archive_is_a_stream_behind_a_front_exchange_bound_to_the_events_exchange() -> None:
    topology = Topology("livepeer.tasks", ArchiveRetention(max_age_s=86_400, max_bytes=10**9))

    declared = topology.declarations()

    assert topology.publish_exchange == "livepeer.tasks.archive"
    assert ExchangeSpec("livepeer.tasks.archive", "fanout") in declared.exchanges
    stream = next(q for q in declared.queues if q.name == "livepeer.tasks.archive")
    assert stream.arguments == {
        "x-queue-type": "stream",
        "x-max-age": "86400s",
        "x-max-length-bytes": 10**9,
        "x-stream-max-segment-size-bytes": 100_000_000,
    }
    assert BindingSpec("livepeer.tasks.archive", "livepeer.tasks.archive") in declared.bindings
    assert declared.exchange_bindings == (
        ExchangeBindingSpec("livepeer.tasks.archive", "livepeer.tasks"),
    )
    # the events exchange keeps its alternate exchange: unrouted events are still held
    events = next(e for e in declared.exchanges if e.name == "livepeer.tasks")
    assert events.arguments == {"alternate-exchange": "livepeer.tasks.unrouted"}


def test_without_the_archive_events_are_published_to_the_events_exchange() -> None:
    topology = Topology("livepeer.tasks")

    assert topology.publish_exchange == "livepeer.tasks"
    assert all("archive" not in queue.name for queue in topology.declarations().queues)
    assert topology.declarations().exchange_bindings == ()


def test_a_small_byte_cap_makes_segments_no_larger_than_itself() -> None:
    arguments = ArchiveRetention(max_age_s=60, max_bytes=5_000_000).arguments()

    assert arguments["x-stream-max-segment-size-bytes"] == 5_000_000


@pytest.mark.parametrize(
    ("environment", "archive"),
    [
        ({}, ArchiveRetention(7 * 86_400, 10_000_000_000)),
        (
            {"archive_max_age_s": 3600, "archive_max_bytes": 2_000_000},
            ArchiveRetention(3600, 2_000_000),
        ),
        ({"archive_enabled": False}, None),
    ],
)
def test_the_archive_follows_its_settings(environment: dict[str, Any], archive: object) -> None:
    settings = CommonSettings(**environment)

    assert bootstrap.topology(settings).archive == archive

"""The CPU of taskhook's AMQP connection alone, per confirmed publish: no broker and no socket,
a transport that swallows what is written, and one ack fed back per publish, ``--in-flight``
publishes at a time. What changes in ``taskhook.broker.amqp`` cost, apart from the machine's
noise and the broker's (``tests.bench.broker_ceiling`` measures the whole path).

    python -m tests.bench.connection_cpu [--publishes N]
"""

import argparse
import asyncio
import time

from pamqp import commands as spec
from pamqp import frame as codec

from taskhook.broker.amqp import CHANNEL, AmqpConnection


class Swallowing:
    """A transport that takes every write and never fills."""

    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


async def cpu_per_publish(in_flight: int, publishes: int) -> float:
    """Microseconds of CPU per publish, from ``publish`` to its future resolved."""
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=30)
    connection.connection_made(Swallowing())  # type: ignore[arg-type]
    connection._calls.clear()  # as after the handshake
    properties = spec.Basic.Properties(
        message_id="m", delivery_mode=2, content_type="application/json", headers={"a": 1}
    )
    body = b"x" * 600  # about a Livepeer task event
    acks = [codec.marshal(spec.Basic.Ack(tag), CHANNEL) for tag in range(1, publishes + 1)]
    started = time.process_time()
    for first in range(0, publishes, in_flight):
        waiting = [
            connection.publish("events", "task.updated.upload", properties, body)
            for _ in range(in_flight)
        ]
        await asyncio.sleep(0)  # they leave in one write
        connection.data_received(b"".join(acks[first : first + in_flight]))
        await asyncio.gather(*waiting)
    return (time.process_time() - started) / publishes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--publishes", type=int, default=64_000)
    args = parser.parse_args()
    for in_flight in (16, 64):
        best = min(asyncio.run(cpu_per_publish(in_flight, args.publishes)) for _ in range(3))
        print(f"in flight {in_flight}: {best:.1f} µs of CPU per confirmed publish (best of 3)")


if __name__ == "__main__":
    main()

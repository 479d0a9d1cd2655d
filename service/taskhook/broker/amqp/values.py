"""What the connection hands out and keeps besides itself: the errors a publish, a call or the
opening fails with, a delivered message, and the waiters for answers and confirms."""

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from pamqp import commands as spec
from pamqp.base import Frame

from taskhook.broker.amqp.wire import ACK_METHOD, NACK_METHOD

if TYPE_CHECKING:
    from taskhook.broker.amqp.protocol import AmqpConnection


class ConnectionLost(ConnectionError):
    """The connection ended before the broker confirmed. ``refused`` holds the broker's reply
    code and text when the broker closed the connection or the channel itself."""

    def __init__(self, reason: str, refused: tuple[int, str] | None = None) -> None:
        super().__init__(reason)
        self.refused = refused


class OpeningRefused(ConnectionLost):
    """The broker closed the connection while it was being opened: with 403 the credentials,
    with 530 the virtual host; code 0 when the broker does not offer the URL's mechanism."""


class WriteBlocked(Exception):
    """The socket takes no more writes (the broker, or the network, is not reading): a publish
    now would only grow the buffer."""


class Returned(Exception):
    """The broker returned a mandatory message: no queue was bound for it."""


class Nacked(Exception):
    """The broker refused the message (a queue at its limit, for one)."""


class Delivered:
    """A message delivered to this connection's consumer, and the way to settle it."""

    __slots__ = ("_connection", "body", "delivery_tag", "properties", "redelivered", "routing_key")

    def __init__(
        self,
        connection: "AmqpConnection",
        deliver: spec.Basic.Deliver,
        properties: spec.Basic.Properties,
        body: bytes,
    ) -> None:
        self._connection = connection
        self.delivery_tag: int = deliver.delivery_tag or 0
        self.redelivered = bool(deliver.redelivered)
        self.routing_key: str = deliver.routing_key or ""
        self.properties = properties
        self.body = body

    @property
    def message_id(self) -> str | None:
        return self.properties.message_id

    @property
    def headers(self) -> Mapping[str, object]:
        return self.properties.headers or {}

    async def ack(self, *, multiple: bool = False) -> None:
        """Acknowledge it (with ``multiple``, every unsettled one delivered before it too).
        Raises ``ConnectionLost`` if the connection is gone: the broker delivers it again."""
        self._connection.settle(ACK_METHOD, self.delivery_tag, int(multiple))

    async def nack(self, *, requeue: bool = True) -> None:
        """Give it back to its queue (``requeue``), or drop it."""
        self._connection.settle(NACK_METHOD, self.delivery_tag, 2 if requeue else 0)


class Call:
    """A synchronous method sent, waiting for its answer: the broker answers in order, so the
    oldest call takes the next answer. A call whose caller gave up (its future cancelled)
    still takes it, and drops it."""

    __slots__ = ("answers", "channel", "future", "name")

    def __init__(
        self, name: str, answers: tuple[str, ...], channel: int, future: "asyncio.Future[Frame]"
    ) -> None:
        self.name = name
        self.answers = answers
        self.channel = channel
        self.future = future


class Pending:
    """A publish waiting for its confirm; ``key`` is where it went and its id, which is how a
    returned message is told apart."""

    __slots__ = ("deadline", "future", "key", "returned", "tag")

    def __init__(
        self,
        tag: int,
        future: "asyncio.Future[None]",
        deadline: float,
        key: tuple[str, str, str | None],
    ) -> None:
        self.tag = tag
        self.future = future
        self.deadline = deadline
        self.key = key
        self.returned = False


class PublishProperties(Protocol):
    """What ``publish`` needs of a message's properties; pamqp's ``Basic.Properties`` is one."""

    @property
    def message_id(self) -> str | None: ...

    def marshal(self) -> bytes: ...

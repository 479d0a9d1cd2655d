"""The bodies taskhook publishes, one model per family of events: the contract with consumers.

These models document the bodies (and generate their JSON Schema); the bodies themselves are
built from the parsed delivery (``taskhook.core.message``), so unknown keys pass through
untouched. The toolkit validates what it receives against them (``taskhook.consumers``).
"""

from typing import Any

from pydantic import Field

from taskhook.core.asset import Asset
from taskhook.core.envelope import NonEmpty
from taskhook.core.live import (
    Detection,
    MultistreamPayload,
    PlaybackPayload,
    RecordingPayload,
    Stream,
)
from taskhook.core.task import Task
from taskhook.core.wire import Millis, WireModel


class PublishedBase(WireModel):
    """What every published body starts with: the envelope less Livepeer's per-attempt
    ``timestamp``, so every copy of an event has the same body."""

    id: NonEmpty = Field(description="The Livepeer event id; also the AMQP message_id.")
    event: str = Field(description="The event name; also the AMQP type.")
    webhook_id: NonEmpty = Field(description="The Livepeer webhook subscription it came through.")
    created_at: Millis = Field(description="When Livepeer emitted the event.")


class PublishedTaskEvent(PublishedBase):
    """The body published for every ``task.*`` event, routed as ``<event>.<task type>``."""

    event: str = Field(description="task.spawned, task.updated, task.completed or task.failed.")
    created_at: Millis = Field(description="When the event was emitted (status.updatedAt).")

    success: bool | None = Field(
        default=None, description="Only for task.completed and task.failed."
    )
    task: Task = Field(description="The task snapshot exactly as Livepeer sent it.")


class PublishedAssetEvent(PublishedBase):
    """The body published for every ``asset.*`` event, routed as ``<event>`` (``asset.ready``).

    Both shapes Livepeer sends (nested and the older flattened one) give this same body."""

    asset: Asset = Field(description="The asset snapshot exactly as Livepeer sent it.")


class PublishedStreamEvent(PublishedBase):
    """The body published for ``stream.started``, ``stream.idle`` and ``stream.detection``."""

    stream: Stream = Field(description="The stream as Livepeer sent it.")
    payload: Detection | None = Field(default=None, description="Only on stream.detection.")


class PublishedRecordingEvent(PublishedBase):
    """The body published for ``recording.started``, ``recording.waiting`` and
    ``recording.ready``."""

    stream: Stream | None = Field(default=None, description="The session's parent stream.")
    payload: RecordingPayload


class PublishedMultistreamEvent(PublishedBase):
    """The body published for ``multistream.connected``, ``multistream.error`` and
    ``multistream.disconnected``."""

    stream: Stream | None = Field(default=None, description="The stream being pushed.")
    payload: MultistreamPayload


class PublishedPlaybackEvent(PublishedBase):
    """The body published for ``playback.user.new``."""

    stream: Stream | None = None
    payload: PlaybackPayload | None = None


class PublishedEvent(PublishedBase):
    """The body published for an event of no family taskhook knows, routed as ``<event>``."""

    stream: dict[str, Any] | None = None
    payload: dict[str, Any] | None = Field(default=None, description="As Livepeer sent it.")


AnyPublished = (
    PublishedTaskEvent
    | PublishedAssetEvent
    | PublishedStreamEvent
    | PublishedRecordingEvent
    | PublishedMultistreamEvent
    | PublishedPlaybackEvent
    | PublishedEvent
)
"""Any body taskhook publishes to the events exchange (its JSON Schema is ``anyOf`` these)."""

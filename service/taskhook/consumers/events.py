"""The events a consumer receives, one class per family: the published body, validated.

``AnyEvent`` reads any message as the class of its event's family (the family is told by the
``event`` name, as the ingest tells it), so a consumer bound to several families gets each
message as its own class. ``event_type_for`` picks what a consumer's bindings can deliver.
"""

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Discriminator, Tag

from taskhook.core.families import FAMILIES, OTHER, Family, family_name, family_of
from taskhook.core.published import (
    PublishedAssetEvent,
    PublishedEvent,
    PublishedMultistreamEvent,
    PublishedPlaybackEvent,
    PublishedRecordingEvent,
    PublishedStreamEvent,
    PublishedTaskEvent,
)

TaskEvent = PublishedTaskEvent
"""A ``task.*`` event: ``event.task`` is the Task snapshot."""
AssetEvent = PublishedAssetEvent
"""An ``asset.*`` event: ``event.asset`` is the Asset snapshot, whichever shape Livepeer sent."""
StreamEvent = PublishedStreamEvent
"""A ``stream.*`` event: ``event.stream`` is the stream."""
RecordingEvent = PublishedRecordingEvent
"""A ``recording.*`` event: ``event.payload.session`` is the session and its recording."""
MultistreamEvent = PublishedMultistreamEvent
"""A ``multistream.*`` event: ``event.payload.target`` is the target pushed to."""
PlaybackEvent = PublishedPlaybackEvent
"""A ``playback.user.new`` event."""
OtherEvent = PublishedEvent
"""An event of no family taskhook knows: ``stream`` and ``payload`` as Livepeer sent them."""


def _family_of_body(body: Any) -> str:
    event = body.get("event") if isinstance(body, dict) else getattr(body, "event", None)
    return family_name(event)


AnyEvent = Annotated[
    Annotated[TaskEvent, Tag("task")]
    | Annotated[AssetEvent, Tag("asset")]
    | Annotated[StreamEvent, Tag("stream")]
    | Annotated[RecordingEvent, Tag("recording")]
    | Annotated[MultistreamEvent, Tag("multistream")]
    | Annotated[PlaybackEvent, Tag("playback")]
    | Annotated[OtherEvent, Tag("other")],
    Discriminator(_family_of_body),
]
"""Any published event, as the class of its family."""

_BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}


def event_type_for(bindings: Sequence[str]) -> Any:
    """The class a consumer bound with ``bindings`` receives: one family's when every binding
    can only match events of that family, else ``AnyEvent``.

    A binding matches one family when it names a known event (``asset.ready``,
    ``stream.started``) or starts with the name of a family whose every event has its model
    (``task.#``, ``asset.*``); ``stream.#`` could also match a stream event of tomorrow, which
    the ingest publishes with the open model, so it gets ``AnyEvent``.
    """
    families = {_family_bound(binding) for binding in bindings}
    if len(families) == 1 and (only := families.pop()) is not OTHER:
        return only.published
    return AnyEvent


def _family_bound(binding: str) -> Family:
    if "*" not in binding and "#" not in binding:
        return family_of(binding)  # a routing key: task.completed.upload, asset.ready, ...
    family = _BY_NAME.get(binding.split(".")[0], OTHER)
    return family if family.closed else OTHER

"""The families of Livepeer events: which model checks a delivery, which model its published body
follows, decided from the event name alone (docs/livepeer-webhooks.md section 1.3).

A known event name finds its family in one dict lookup (this runs for every delivery). An
unknown ``task.*`` or ``asset.*`` event is checked like its family's others, since Studio builds
every payload of those two families in one place; an unknown event of any other family gets the
open model, so a body never seen before is still accepted.
"""

from dataclasses import dataclass
from typing import get_args

from taskhook.core.asset import AssetEnvelope, AssetEventName
from taskhook.core.envelope import Envelope, EventEnvelope
from taskhook.core.events import TASK_EVENTS
from taskhook.core.live import (
    MultistreamEnvelope,
    MultistreamEventName,
    PlaybackEnvelope,
    PlaybackEventName,
    RecordingEnvelope,
    RecordingEventName,
    StreamEnvelope,
    StreamEventName,
)
from taskhook.core.published import (
    PublishedAssetEvent,
    PublishedBase,
    PublishedEvent,
    PublishedMultistreamEvent,
    PublishedPlaybackEvent,
    PublishedRecordingEvent,
    PublishedStreamEvent,
    PublishedTaskEvent,
)
from taskhook.core.task_envelope import TaskEnvelope


@dataclass(frozen=True, slots=True)
class Family:
    """One family of events: its name (the event names' first word), the events Livepeer sends
    today, the model a delivery must pass, and the model of the body published for it."""

    name: str
    events: tuple[str, ...]
    envelope: type[Envelope]
    published: type[PublishedBase]
    # Whether an event of this family that Livepeer does not send today is checked like the rest.
    closed: bool = False


TASK = Family("task", TASK_EVENTS, TaskEnvelope, PublishedTaskEvent, closed=True)
ASSET = Family("asset", get_args(AssetEventName), AssetEnvelope, PublishedAssetEvent, closed=True)
STREAM = Family("stream", get_args(StreamEventName), StreamEnvelope, PublishedStreamEvent)
RECORDING = Family(
    "recording", get_args(RecordingEventName), RecordingEnvelope, PublishedRecordingEvent
)
MULTISTREAM = Family(
    "multistream", get_args(MultistreamEventName), MultistreamEnvelope, PublishedMultistreamEvent
)
PLAYBACK = Family("playback", get_args(PlaybackEventName), PlaybackEnvelope, PublishedPlaybackEvent)
OTHER = Family("other", (), EventEnvelope, PublishedEvent)

FAMILIES: tuple[Family, ...] = (TASK, ASSET, STREAM, RECORDING, MULTISTREAM, PLAYBACK)
_BY_EVENT: dict[str, Family] = {event: family for family in FAMILIES for event in family.events}
_CLOSED_BY_PREFIX: dict[str, Family] = {f.name + ".": f for f in FAMILIES if f.closed}


def family_of(event: object) -> Family:
    """The family of the event named ``event`` (``OTHER`` for anything else, a non-string too)."""
    if type(event) is not str:
        return OTHER
    family = _BY_EVENT.get(event)
    if family is not None:
        return family
    prefix = event[: event.find(".") + 1]
    return _CLOSED_BY_PREFIX.get(prefix, OTHER) if prefix else OTHER


def family_name(event: object) -> str:
    """The name of ``event``'s family: the toolkit's discriminator between published bodies."""
    return family_of(event).name


KNOWN_EVENTS: tuple[str, ...] = tuple(_BY_EVENT)
"""Every event name Livepeer sends a webhook for today, family by family."""

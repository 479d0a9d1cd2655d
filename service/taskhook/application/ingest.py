"""What happens to a delivery once its bytes are in: the endpoint's rules, free of HTTP.

The order matters and follows the sender's retry rules (docs/livepeer-webhooks.md section 3):
prove the bytes are Livepeer's before parsing them; keep a signed delivery we must refuse, so a
4xx never loses it; publish a valid one and report success only once the broker confirmed it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from taskhook import tracing
from taskhook.application.dedup import Outcome, PublishOnce
from taskhook.clock import now_ms
from taskhook.core.delivery import Delivery, check_signed_timestamp, parse_body, validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid
from taskhook.core.gate import GateWarnings, gate_refusal, is_gate_request
from taskhook.core.message import OutgoingMessage, event_message, rejected_message
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.core.signature import signing_secret, verify_signature

log = logging.getLogger("taskhook.webhook")


class Publisher(Protocol):
    """Where accepted and refused deliveries go. Both methods return only once confirmed and
    raise ``PublishFailed`` otherwise."""

    @property
    def ready(self) -> bool: ...

    @property
    def blocked(self) -> bool:
        """True while the broker refuses publishes (a memory or disk alarm)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish_event(self, message: OutgoingMessage) -> None: ...

    async def publish_rejected(self, message: OutgoingMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of an accepted delivery."""

    outcome: Outcome
    delivery: Delivery


class Ingest:
    """Authenticates, checks, keeps and publishes deliveries; raises ``DeliveryRefused``."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        secrets: tuple[bytes, ...],
        tolerance_ms: int,
        rejected_queue: str,
        publish_once: PublishOnce,
        redaction: Redaction = DEFAULT_REDACTION,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._redaction = redaction
        self._tracer = tracing.tracer()  # None when tracing is off: no span at all
        self._publisher = publisher
        self._secrets = secrets
        self._tolerance_ms = tolerance_ms
        self._rejected_queue = rejected_queue
        self._publish_once = publish_once
        self._clock_ms = clock_ms
        self._gate_warnings = GateWarnings()

    @property
    def publisher(self) -> Publisher:
        """Where it publishes; whoever runs the ingest starts and closes it."""
        return self._publisher

    async def receive(self, body: bytes, signature: str | None) -> Receipt:
        """Take one delivery's raw bytes and its ``Livepeer-Signature`` header.

        Raises ``SignatureInvalid`` (nothing kept), ``BodyNotJson`` or ``DeliveryInvalid`` (kept in
        the rejected queue first), or ``PublishFailed`` (nothing confirmed: the sender must retry).
        """
        if self._tracer is None:  # no span, not even a do-nothing one: this runs per request
            signed_at = self._authenticate(body, signature)
        else:
            with tracing.span(self._tracer, "verify signature"):
                signed_at = self._authenticate(body, signature)
        return await self._accept(body, signed_at=signed_at, origin=None, signature=signature)

    async def admit(self, body: bytes, *, origin: str) -> Receipt:
        """Take a delivery whose origin was proven another way: read from Livepeer Studio's API
        with the project's key, by ``taskhook reconcile``.

        Everything ``receive`` does but the signature check; the published message carries
        ``origin`` in its ``x-taskhook-reconciled`` header. Raises as ``receive`` does.
        """
        return await self._accept(body, signed_at=None, origin=origin)

    async def _accept(
        self,
        body: bytes,
        *,
        signed_at: int | None,
        origin: str | None,
        signature: str | None = None,
    ) -> Receipt:
        try:
            if self._tracer is None:
                delivery = self._validated(body, signed_at, signature)
            else:
                with tracing.span(self._tracer, "validate delivery"):
                    delivery = self._validated(body, signed_at, signature)
        except (BodyNotJson, DeliveryInvalid) as refusal:
            await self._keep_refused(body, refusal)
            raise
        message = event_message(
            delivery,
            received_at_ms=self._clock_ms(),
            reconciled=origin,
            redaction=self._redaction,
        )
        outcome = await self._publish_once.run(
            delivery.dedup_key, lambda: self._publisher.publish_event(message)
        )
        return Receipt(outcome=outcome, delivery=delivery)

    def _warn_of_gate(self, body: bytes, signature: str | None) -> None:
        """One warning a minute per webhook that sends playback gate requests here. The webhook
        is known by the secret that signed the request (its place in the configured list)."""
        index = signing_secret(signature, body, secrets=self._secrets)
        webhook = f"secret-{index + 1}" if index is not None else "unsigned"
        requests = self._gate_warnings.due(webhook, self._clock_ms())
        if requests is not None:
            log.warning(
                "playback access-control requests are sent to this webhook URL: every viewer "
                "of the gated content is refused; remove taskhook's URL from the playback policy",
                extra={
                    "cause": "access-control-request",
                    "signed_by": webhook,
                    "requests": requests,
                },
            )

    def _validated(self, body: bytes, signed_at: int | None, signature: str | None) -> Delivery:
        document = parse_body(body)
        if signed_at is not None:
            check_signed_timestamp(document, signed_at)
        if is_gate_request(document):  # before any model: never kept, never 422
            self._warn_of_gate(body, signature)
            raise gate_refusal()
        return validate_delivery(document)

    def _authenticate(self, body: bytes, signature: str | None) -> int | None:
        if not self._secrets:  # settings only allow this with TASKHOOK_ALLOW_UNSIGNED=true
            return None
        return verify_signature(
            signature,
            body,
            secrets=self._secrets,
            now_ms=self._clock_ms(),
            tolerance_ms=self._tolerance_ms,
        )

    async def _keep_refused(self, body: bytes, refusal: BodyNotJson | DeliveryInvalid) -> None:
        # Livepeer never retries a 4xx, so this copy is the only one left; if it cannot be kept,
        # PublishFailed propagates and the sender is told to retry instead.
        message = rejected_message(
            body, refusal, queue=self._rejected_queue, received_at_ms=self._clock_ms()
        )
        await self._publisher.publish_rejected(message)

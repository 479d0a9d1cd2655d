"""Configuration, read from ``TASKHOOK_*`` environment variables by the composition root only."""

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TASKHOOK_"
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"
# Livepeer gives up on an answer after 30 s and counts that as a failure to retry; answering
# 503 well before that keeps the retry schedule short and predictable.
MAX_PUBLISH_TIMEOUT_S = 25.0


class Settings(BaseSettings):
    """Everything the service can be told. Tests build it from keyword arguments."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    amqp_url: SecretStr = SecretStr(DEFAULT_AMQP_URL)
    host: str = "0.0.0.0"  # noqa: S104  # a container's port is only reachable on all interfaces
    port: int = Field(default=8080, ge=0, le=65535)
    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    allow_unsigned: bool = False
    signature_tolerance_s: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    exchange: str = Field(default="livepeer.tasks", pattern=r"^[A-Za-z0-9_.:-]{1,200}$")
    publish_timeout_s: float = Field(default=10.0, gt=0, le=MAX_PUBLISH_TIMEOUT_S)
    max_in_flight: int = Field(default=512, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dedup_capacity: int = Field(default=100_000, ge=0)
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    drain_delay_s: float = Field(default=0.0, ge=0)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return value

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _signed_unless_told_otherwise(self) -> Self:
        if not self.webhook_secrets and not self.allow_unsigned:
            raise ValueError(
                "no webhook secret is configured: set TASKHOOK_WEBHOOK_SECRETS, "
                "or TASKHOOK_ALLOW_UNSIGNED=true to accept unsigned deliveries"
            )
        return self

    @property
    def secret_keys(self) -> tuple[bytes, ...]:
        """The HMAC keys, as Livepeer uses them: the secret's UTF-8 bytes."""
        return tuple(secret.get_secret_value().encode() for secret in self.webhook_secrets)

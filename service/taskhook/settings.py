"""Configuration, read from ``TASKHOOK_*`` environment variables by the composition root only.

Nothing else reads the environment: every other module is handed what it needs.
"""

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from taskhook.exposure import LOOPBACK_HOST, check_exposure

ENV_PREFIX = "TASKHOOK_"
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"
# Known to everyone, so only ever used by `taskhook serve --dev` (what `make run` starts) and,
# when nothing else is configured, by `taskhook send`.
DEV_SECRET = "taskhook-dev-secret"  # noqa: S105
# Livepeer gives up on an answer after 30 s and counts that as a failure to retry; answering
# 503 well before that keeps the retry schedule short and predictable.
MAX_PUBLISH_TIMEOUT_S = 25.0
# A file beside the process: `make run` needs no database server. Production names PostgreSQL.
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///taskhook-tasks.sqlite3"
# The async drivers the tasks store is built and tested on.
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
# Quick enough to ride out a blip, long enough to outlast a database failover.
DEFAULT_RETRY_DELAYS_S = (5.0, 30.0, 300.0)
DEFAULT_STUDIO_URL = "https://livepeer.studio/api"
# A retry queue holds a message in the broker; a day is longer than any outage worth waiting for.
MAX_RETRY_DELAY_S = 86_400.0
# The archive keeps a week (long enough to notice a consumer's bug and replay its window) and at
# most 10 GB: about 3.5 million events of 3 KB, whichever limit comes first.
DEFAULT_ARCHIVE_MAX_AGE_S = 7 * 86_400
DEFAULT_ARCHIVE_MAX_BYTES = 10_000_000_000


def _split_secret_list(cls: type[BaseSettings], value: object) -> object:
    """``a,b`` -> ``(a, b)``: several secrets are accepted while one is being rotated."""
    if isinstance(value, str | SecretStr):
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return value


def _usable_amqp_url(text: str) -> bool:
    try:
        url = URL(text.strip())
        url.explicit_port  # noqa: B018  # raises for a port that is not a number
    except ValueError:
        return False
    return url.scheme in ("amqp", "amqps") and bool(url.host)


class CommonSettings(BaseSettings):
    """What every taskhook process needs: the broker, the exchange, the log level."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    amqp_url: SecretStr = SecretStr(DEFAULT_AMQP_URL)
    exchange: str = Field(default="livepeer.tasks", pattern=r"^[A-Za-z0-9_.:-]{1,200}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Credentials kept out of published bodies (docs/publishing.md): the default rules, and
    # more dotted paths to redact; TASKHOOK_REDACT=false turns every rule off.
    redact: bool = True
    redact_paths: Annotated[tuple[str, ...], NoDecode] = ()
    # The archive stream (docs/history.md): every process must agree, it names where to publish.
    archive_enabled: bool = True
    archive_max_age_s: int = Field(default=DEFAULT_ARCHIVE_MAX_AGE_S, ge=60)
    archive_max_bytes: int = Field(default=DEFAULT_ARCHIVE_MAX_BYTES, ge=1_000_000)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url(cls, value: SecretStr) -> SecretStr:
        # Checked here, so a broken URL is a configuration error, not a connection that fails.
        # Several, comma-separated, name the nodes of one cluster: each is tried in turn.
        if not all(_usable_amqp_url(part) for part in value.get_secret_value().split(",")):
            raise ValueError(
                "must be amqp:// or amqps:// URLs with a host and a numeric port, "
                "comma-separated for the nodes of a cluster"
            )
        return value

    @field_validator("redact_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("redact_paths")
    @classmethod
    def _paths_usable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if any(not key for key in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted path like task.params.upload.url")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(CommonSettings):
    """Everything the ingest (``taskhook serve``) can be told. Tests build it from keywords."""

    host: str = "0.0.0.0"  # noqa: S104  # a container's port is only reachable on all interfaces
    port: int = Field(default=8080, ge=0, le=65535)
    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    allow_unsigned: bool = False
    signature_tolerance_s: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Longer than Livepeer waits for an answer (30 s): by the time this 408 goes out, the
    # sender has already counted the attempt as failed and will retry, so nothing is lost.
    body_timeout_s: float = Field(default=35.0, gt=0)
    # aiohttp's keep-alive timer, which also closes a connection whose request headers have not
    # all arrived by then: the header timeout. Above the idle timeout of the load balancers in
    # front (nginx and AWS ALB: 60 s), so they never reuse a connection just as it is closed.
    keepalive_timeout_s: float = Field(default=75.0, gt=0)
    publish_timeout_s: float = Field(default=10.0, gt=0, le=MAX_PUBLISH_TIMEOUT_S)
    max_in_flight: int = Field(default=512, ge=1)
    dedup_capacity: int = Field(default=100_000, ge=0)
    # Optional: replicas share what they confirmed, and which event each is publishing.
    dedup_redis_url: SecretStr | None = None
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    drain_delay_s: float = Field(default=0.0, ge=0)

    _split_secrets = field_validator("webhook_secrets", mode="before")(_split_secret_list)

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


class DevSettings(Settings):
    """``taskhook serve --dev``: as ``Settings``, but with no secret configured (unset or
    empty) the development secret is used instead of refusing to start."""

    @field_validator("webhook_secrets")
    @classmethod
    def _dev_secret_unless_configured(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return value or (SecretStr(DEV_SECRET),)


class SenderSettings(BaseSettings):
    """What ``taskhook send`` reads: the secret to sign with and the port to post to, as the
    ingest it talks to has them."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    # Where the ingest on this machine listens, as it reads it: `send` posts there by default.
    port: int = Field(default=8080, ge=0, le=65535)

    _split_secrets = field_validator("webhook_secrets", mode="before")(_split_secret_list)

    @property
    def signing_secret(self) -> str:
        """The first configured secret (the one Livepeer signs with), else the dev one."""
        return self.webhook_secrets[0].get_secret_value() if self.webhook_secrets else DEV_SECRET


class ConsumerSettings(CommonSettings):
    """What ``taskhook consume <name>`` can be told; the same for every consumer."""

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    # The read API shows task bodies: this machine only, unless a token guards it (exposure.py).
    consumer_host: str = LOOPBACK_HOST
    consumer_port: int = Field(default=8081, ge=0, le=65535)
    consumer_token: SecretStr | None = Field(default=None, min_length=16)
    # A consumer with a batch handler takes at least twice its batch size: room for the batch
    # being handled and the next one filling up behind it.
    consumer_prefetch: int = Field(default=32, ge=1, le=65535)
    consumer_concurrency: int = Field(default=8, ge=1)
    # For consumers with a batch handler (the tasks consumer has one): at most this many events
    # per batch (1: one by one), and the one wait for a batch to fill when fewer have arrived.
    consumer_batch_size: int = Field(default=100, ge=1, le=10_000)
    consumer_batch_wait_ms: float = Field(default=10.0, ge=0, le=1000)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_delays_s: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_DELAYS_S
    consumer_shutdown_grace_s: float = Field(default=20.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        # Checked here, so a URL the tasks store cannot use is a configuration error, said
        # before anything starts, rather than a driver's traceback on the first query.
        scheme, separator, rest = value.get_secret_value().partition("://")
        if scheme not in DATABASE_SCHEMES or not separator or not rest.strip("/"):
            raise ValueError(
                "must be sqlite+aiosqlite:///<file> or "
                "postgresql+asyncpg://<user>:<password>@<host>/<database>"
            )
        return value

    @field_validator("consumer_retry_delays_s", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("consumer_retry_delays_s")
    @classmethod
    def _delays_usable(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("name at least one delay")
        if any(not 0.001 <= delay <= MAX_RETRY_DELAY_S for delay in value):
            raise ValueError(f"each delay must be between 0.001 and {MAX_RETRY_DELAY_S:.0f} s")
        return value

    @model_validator(mode="after")
    def _exposed_only_with_a_token(self) -> Self:
        check_exposure(
            self.consumer_host,
            self.consumer_token,
            f"{ENV_PREFIX}CONSUMER_HOST",
            f"{ENV_PREFIX}CONSUMER_TOKEN",
        )
        return self

    @property
    def retry_delays_ms(self) -> tuple[int, ...]:
        return tuple(round(delay * 1000) for delay in self.consumer_retry_delays_s)


class ReconcileSettings(CommonSettings):
    """What ``taskhook reconcile`` reads: Studio's API and a key of the webhook's project."""

    # A backend key of the project the webhook belongs to: the lists are scoped to its project.
    studio_api_key: SecretStr = Field(min_length=1)
    studio_url: str = DEFAULT_STUDIO_URL
    publish_timeout_s: float = Field(default=10.0, gt=0, le=MAX_PUBLISH_TIMEOUT_S)

    @field_validator("studio_api_key")
    @classmethod
    def _studio_api_key(cls, value: SecretStr) -> SecretStr:
        # A key pasted from a file often ends in a newline, which no HTTP header may carry.
        key = value.get_secret_value().strip()
        if not key or not key.isprintable():
            raise ValueError("must be the API key alone, with no control characters")
        return SecretStr(key)

    @field_validator("studio_url")
    @classmethod
    def _studio_url(cls, value: str) -> str:
        try:
            url = URL(value)
            usable = url.scheme in ("http", "https") and bool(url.host)
        except ValueError:
            usable = False
        if not usable:
            raise ValueError("must be an http:// or https:// URL, like " + DEFAULT_STUDIO_URL)
        return value


class ConsoleSettings(ConsumerSettings):
    """What ``taskhook console`` reads: the tasks database and the consumers' queues as the
    consumers have them (the same variables), and where the console itself listens."""

    # It shows task bodies and the raw rejected deliveries: this machine only, unless a token
    # guards it (exposure.py).
    console_host: str = LOOPBACK_HOST
    console_port: int = Field(default=8082, ge=0, le=65535)
    console_token: SecretStr | None = Field(default=None, min_length=16)

    @model_validator(mode="after")
    def _console_exposed_only_with_a_token(self) -> Self:
        check_exposure(
            self.console_host,
            self.console_token,
            f"{ENV_PREFIX}CONSOLE_HOST",
            f"{ENV_PREFIX}CONSOLE_TOKEN",
        )
        return self

import pytest
from pydantic import ValidationError

from taskhook.bootstrap import BadConfiguration, describe_settings_error, load_settings
from taskhook.cli import main
from taskhook.settings import ConsumerSettings, SenderSettings, Settings


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings(webhook_secrets="s")
    assert settings.amqp_url.get_secret_value() == "amqp://guest:guest@localhost:5672/"
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.signature_tolerance_s == 300
    assert settings.max_body_bytes == 1_048_576
    assert settings.exchange == "livepeer.tasks"
    assert settings.allow_unsigned is False


def test_several_comma_separated_secrets_are_accepted_for_rotation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", " new-one, old-one ,")
    assert Settings().secret_keys == (b"new-one", b"old-one")


def test_secrets_never_appear_in_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", "hunter2")
    monkeypatch.setenv("TASKHOOK_AMQP_URL", "amqp://user:pa55word@broker/")
    shown = repr(Settings()) + str(Settings())
    assert "hunter2" not in shown
    assert "pa55word" not in shown


def test_no_secret_refuses_to_start_unless_unsigned_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="TASKHOOK_WEBHOOK_SECRETS"):
        Settings()
    monkeypatch.setenv("TASKHOOK_ALLOW_UNSIGNED", "true")
    assert Settings().secret_keys == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKHOOK_PORT", "eighty"),
        ("TASKHOOK_PORT", "70000"),
        ("TASKHOOK_PUBLISH_TIMEOUT_S", "60"),
        ("TASKHOOK_MAX_IN_FLIGHT", "0"),
        ("TASKHOOK_ALLOW_UNSIGNED", "maybe"),
        ("TASKHOOK_EXCHANGE", "has space"),
        ("TASKHOOK_LOG_LEVEL", "chatty"),
        ("TASKHOOK_AMQP_URL", "http://guest:hunter2@broker/"),
        ("TASKHOOK_AMQP_URL", "amqp://guest:hunter2@broker:port/"),
        ("TASKHOOK_AMQP_URL", "amqp://guest:hunter2@/"),
        ("TASKHOOK_AMQP_URL", "amqp://guest:hunter2@a:5681/,http://guest:hunter2@b:5682/"),
        ("TASKHOOK_AMQP_URL", "amqp://guest:hunter2@a:5681/,"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", "hunter2")
    monkeypatch.setenv(variable, value)
    assert main(["serve"]) == 2
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1
    assert printed.startswith(f"taskhook: bad configuration: {variable}: ")
    assert "hunter2" not in printed


def test_dev_mode_uses_the_printed_dev_secret_only_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(Settings, dev=True).secret_keys == (b"taskhook-dev-secret",)
    with pytest.raises(BadConfiguration, match="TASKHOOK_WEBHOOK_SECRETS"):
        load_settings(Settings)
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", "")  # set, but to nothing
    assert load_settings(Settings, dev=True).secret_keys == (b"taskhook-dev-secret",)
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", "real")
    assert load_settings(Settings, dev=True).secret_keys == (b"real",)


def test_send_signs_with_the_first_configured_secret_else_the_dev_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert SenderSettings().signing_secret == "taskhook-dev-secret"
    monkeypatch.setenv("TASKHOOK_WEBHOOK_SECRETS", " new , old ")
    assert SenderSettings().signing_secret == "new"


def test_a_missing_secret_error_names_the_variable() -> None:
    with pytest.raises(ValidationError) as error:
        Settings()
    assert describe_settings_error(error.value).startswith(
        "no webhook secret is configured: set TASKHOOK_WEBHOOK_SECRETS"
    )


@pytest.mark.parametrize(
    ("raw", "expected_ms"),
    [("5,30,300", (5000, 30000, 300000)), (" 0.2 , 1 ", (200, 1000)), ("0.001", (1,))],
)
def test_consumer_retry_delays_are_comma_separated_seconds(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected_ms: tuple[int, ...]
) -> None:
    monkeypatch.setenv("TASKHOOK_CONSUMER_RETRY_DELAYS_S", raw)
    assert ConsumerSettings().retry_delays_ms == expected_ms


@pytest.mark.parametrize("raw", ["", "0", "-5", "100000", "soon"])
def test_unusable_retry_delays_refuse_to_start(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("TASKHOOK_CONSUMER_RETRY_DELAYS_S", raw)
    with pytest.raises(ValidationError):
        ConsumerSettings()


def test_a_consumer_needs_no_webhook_secret_and_never_shows_the_database_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKHOOK_DATABASE_URL", "postgresql+asyncpg://app:s3cret@db/tasks")
    settings = ConsumerSettings()
    assert settings.consumer_port == 8081
    assert "s3cret" not in repr(settings) + str(settings)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///taskhook-tasks.sqlite3",
        "sqlite+aiosqlite:////var/lib/taskhook/tasks.sqlite3",
        "postgresql+asyncpg://app:pw@db.internal:5432/tasks",
    ],
)
def test_the_database_urls_the_store_is_built_on_are_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TASKHOOK_DATABASE_URL", url)
    assert load_settings(ConsumerSettings).database_url.get_secret_value() == url


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x",
        "sqlite:///tasks.db",  # a synchronous driver
        "postgresql://app:pw@db/tasks",
        "postgresql+asyncpg://",
        "taskhook-tasks.sqlite3",
        "",
    ],
)
def test_a_database_url_the_store_cannot_use_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TASKHOOK_DATABASE_URL", url)
    with pytest.raises(BadConfiguration, match=r"^TASKHOOK_DATABASE_URL: must be sqlite") as caught:
        load_settings(ConsumerSettings)
    assert "pw" not in str(caught.value)

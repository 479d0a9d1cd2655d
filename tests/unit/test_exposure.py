"""HTTP sides that show event data: loopback by default, a token to listen elsewhere."""

from unittest.mock import MagicMock, Mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr

from taskhook.bootstrap import BadConfiguration, load_settings
from taskhook.consumers.app import create_consumer_app
from taskhook.exposure import check_exposure, is_loopback
from taskhook.http.access import TOKEN_COOKIE, require_token
from taskhook.settings import ConsumerSettings

TOKEN = SecretStr("a-token-of-sixteen-or-more")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.org", False),
        ("", False),
        (None, False),
    ],
)
def test_only_this_machines_addresses_count_as_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "token", "allowed"),
    [
        ("127.0.0.1", None, True),
        ("127.0.0.1", TOKEN, True),
        ("0.0.0.0", TOKEN, True),
        ("0.0.0.0", None, False),
        ("10.1.2.3", None, False),
    ],
)
def test_listening_off_loopback_needs_a_token(
    host: str, token: SecretStr | None, allowed: bool
) -> None:
    if allowed:
        check_exposure(host, token, "HOST_VAR", "TOKEN_VAR")
    else:
        with pytest.raises(ValueError, match=r"^HOST_VAR=\S+ would serve .* set TOKEN_VAR too"):
            check_exposure(host, token, "HOST_VAR", "TOKEN_VAR")


def test_the_read_api_listens_on_loopback_by_default() -> None:
    assert ConsumerSettings().consumer_host == "127.0.0.1"


def test_a_consumer_on_all_interfaces_without_a_token_refuses_to_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKHOOK_CONSUMER_HOST", "0.0.0.0")
    with pytest.raises(BadConfiguration, match="set TASKHOOK_CONSUMER_TOKEN too") as caught:
        load_settings(ConsumerSettings)
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("TASKHOOK_CONSUMER_TOKEN", TOKEN.get_secret_value())
    assert load_settings(ConsumerSettings).consumer_host == "0.0.0.0"


def _request(path: str, peer: str, headers: dict[str, str] | None = None) -> web.Request:
    transport = MagicMock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 50000) if name == "peername" else default
    )
    return make_mocked_request("GET", path, headers=headers or {}, transport=transport)


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="event data")


@pytest.mark.parametrize(
    ("path", "peer", "headers", "token", "status"),
    [
        ("/tasks", "127.0.0.1", {}, None, 200),
        ("/tasks", "::1", {}, TOKEN, 200),
        ("/tasks", "10.0.0.7", {}, None, 401),
        ("/tasks", "10.0.0.7", {}, TOKEN, 401),
        ("/tasks", "10.0.0.7", {"Authorization": "Bearer wrong-token-xxxxxxxx"}, TOKEN, 401),
        ("/tasks", "10.0.0.7", {"Authorization": f"Bearer {TOKEN.get_secret_value()}"}, TOKEN, 200),
        (
            "/tasks",
            "10.0.0.7",
            {"Cookie": f"{TOKEN_COOKIE}={TOKEN.get_secret_value()}"},
            TOKEN,
            200,
        ),
        ("/healthz", "10.0.0.7", {}, TOKEN, 200),
        ("/metrics", "10.0.0.7", {}, None, 200),
    ],
)
async def test_a_request_from_off_this_machine_needs_the_token(
    path: str, peer: str, headers: dict[str, str], token: SecretStr | None, status: int
) -> None:
    response = await require_token(token)(_request(path, peer, headers), _ok)
    assert response.status == status
    if status == 401:
        assert isinstance(response, web.Response)
        assert isinstance(response.body, bytes)
        assert response.content_type == "application/problem+json"
        assert b"token-required" in response.body
        assert TOKEN.get_secret_value().encode() not in response.body


def test_every_consumer_app_carries_the_guard() -> None:
    """The guard is wired where the read routes are served, not only defined."""
    app = create_consumer_app(Mock(ready=True), Mock(registry=None), [], TOKEN)
    assert any(getattr(m, "__name__", "") == "guard" for m in app.middlewares)

"""The one rule for HTTP sides that show event data (the tasks read API, the console).

They listen on the loopback interface unless told otherwise, and may listen anywhere else only
with a token configured: an address off this machine without a token would hand task bodies to
whoever can reach the port. Pure: the settings check it, ``http.access`` enforces it per request.
"""

import ipaddress

from pydantic import SecretStr

LOOPBACK_HOST = "127.0.0.1"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a listener's address or a peer's) is this machine only."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(
    host: str, token: SecretStr | None, host_variable: str, token_variable: str
) -> None:
    """Raise ``ValueError`` naming both settings when ``host`` is off loopback without a token."""
    if is_loopback(host) or token is not None:
        return
    raise ValueError(
        f"{host_variable}={host} would serve event data to anyone who can reach it: "
        f"set {token_variable} too (clients then send 'Authorization: Bearer <token>'), "
        f"or listen on {LOOPBACK_HOST}"
    )

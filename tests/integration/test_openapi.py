"""schemathesis against the live ``taskhook serve``: every answer conforms to docs/openapi.yaml.

Cases are generated from the description (valid and invalid), signed the way Livepeer signs
(the body's ``timestamp`` set to the signature's ``t``) so they reach validation, then sent to
the real process; schemathesis checks status codes, content types, headers and bodies, and that
nothing is a 5xx.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core import NOT_SET

from taskhook.clock import now_ms
from taskhook.core.signature import sign
from tests.support import owned
from tests.support.deliveries import SECRET
from tests.support.processes import environment, free_port

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)
WELL_FORMED = re.compile(r"^t=[0-9]+(,v1=[0-9a-fA-F]{64})+$")


@pytest.fixture(scope="module")
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One real service for every generated case, on an exchange of its own."""
    exchange = owned.new_exchange(request.node.nodeid, archive=False)
    port = free_port()
    log = (tmp_path_factory.mktemp("openapi") / "serve.log").open("wb")
    process = subprocess.Popen(  # our own interpreter and module
        [sys.executable, "-m", "taskhook", "serve"],
        env=environment(exchange, port),
        stdout=log,
        stderr=log,
        start_new_session=True,  # so that the whole session is killed after, whatever it started
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
        asyncio.run(owned.remove(exchange))


def as_sent(value: Any) -> Any:
    """JSON Schema counts 205.0 as an integer; Livepeer's sender writes 205, as the model wants."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_sent(item) for item in value]
    return value


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_answer_conforms_to_the_openapi_description(case: Any, base_url: str) -> None:
    if case.operation.path == "/webhooks/livepeer" and case.method == "POST":
        at = now_ms()
        body = case.body
        if isinstance(body, dict):
            body = as_sent(body)
            # Livepeer signs with t = the body's timestamp; a negative case's bad one stays.
            if type(body.get("timestamp")) is int and body["timestamp"] >= 0:
                body["timestamp"] = at
        raw = (
            b""
            if body is NOT_SET
            else body
            if isinstance(body, bytes)
            else json.dumps(body, separators=(",", ":")).encode()
        )
        headers: dict[str, Any] = {**dict(case.headers or {}), "Content-Type": "application/json"}
        # A header the description allows is replaced by a right one; a missing or malformed
        # one (a negative case) is sent as generated, and must be refused.
        if WELL_FORMED.match(str(headers.get("Livepeer-Signature", ""))):
            headers["Livepeer-Signature"] = sign(raw, SECRET.encode(), at)
        response: Any = requests.post(
            f"{base_url}{case.formatted_path}", data=raw, headers=headers, timeout=15
        )
    else:
        response = case.call(base_url=base_url)
    case.validate_response(response)

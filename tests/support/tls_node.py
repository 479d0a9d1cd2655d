"""A RabbitMQ node of the tests' own, with a TLS listener, for what the machine's broker cannot
show: TLS with a CA the test made, certificate (EXTERNAL) authentication, small frames, and a
memory alarm that hurts nobody else.

The node (``taskhook-tls@localhost``) listens on ``AMQP_PORT`` (plain) and ``TLS_PORT`` (TLS,
``verify_peer``, a client certificate optional), with ``frame_max`` at AMQP's minimum, and
enables ``rabbitmq_auth_mechanism_ssl`` (EXTERNAL, the user named by the certificate's common
name). Its CA, certificates and users are made afresh by ``start`` with ``openssl``; it is run
as tests/support/cluster.py runs its nodes, never touching the machine's node on 5672.
"""

import base64
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from tests.support import cluster

BASE = Path(os.environ.get("TASKHOOK_TLS_NODE_DIR", "/tmp/taskhook-tls-node"))  # noqa: S108
LOCK = Path("/tmp/taskhook-tls-node.lock")  # noqa: S108  # one node on these ports at a time
NUMBER = 11  # cluster.Node's ports from it: distribution on 25691
AMQP_PORT = 5691
TLS_PORT = 5692
FRAME_MAX = 4096  # AMQP's smallest: every body past 4 KiB crosses frames
CLIENT_USER = "taskhook-client"  # the client certificate's common name
CERTIFIED_VHOST = "certified"  # only CLIENT_USER may use it
# A fresh EC key (quicker to make than RSA), unencrypted, valid two days; then -keyout's file.
NEW_KEY = (
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-keyout",
)
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class TlsNode(cluster.Node):
    @property
    def name(self) -> str:
        return "taskhook-tls@localhost"

    @property
    def port(self) -> int:
        return AMQP_PORT

    @property
    def certificates(self) -> Path:
        return self.home / "certificates"

    def file(self, name: str) -> str:
        return str(self.certificates / name)

    @property
    def tls_url(self) -> str:
        """PLAIN over TLS, verifying the broker against the test's CA."""
        return f"amqps://guest:guest@localhost:{TLS_PORT}/?cafile={self.file('ca.pem')}"

    @property
    def external_url(self) -> str:
        """EXTERNAL over TLS: the client certificate names the user; no password."""
        return (
            f"amqps://localhost:{TLS_PORT}/?auth=external&cafile={self.file('ca.pem')}"
            f"&certfile={self.file('client.pem')}&keyfile={self.file('client.key')}"
        )

    def ctl(self, *args: str) -> str:
        return cluster.ctl(self, *args, timeout_s=60.0)


def start(base: Path = BASE) -> TlsNode:
    """A fresh node with fresh certificates, answering on both ports. Its ports are fixed, so
    a second run on the machine (another checkout's tests) waits for the first to stop it."""
    _take_the_ports()
    node = TlsNode(NUMBER, base)
    stop(node, release=False)
    node.home.mkdir(parents=True)
    cookie = base / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20))
    cookie.chmod(0o400)
    make_certificates(node.certificates)
    _configure(node)
    cluster._launch(node)
    _wait_for_port(node, TLS_PORT)
    return node


def stop(node: TlsNode, *, release: bool = True) -> None:
    """Stop the node (if this base started one) and remove its directory."""
    cluster.stop_node(node)
    shutil.rmtree(node.base, ignore_errors=True)
    if release and _HELD:
        _HELD.pop().close()  # closing the file lets the next run have the ports


_HELD: list[TextIO] = []


def _take_the_ports() -> None:
    if _HELD:
        return
    holder = LOCK.open("w")
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                holder.close()
                raise cluster.ClusterError(f"another run held {LOCK} for too long") from None
            time.sleep(0.5)
    _HELD.append(holder)


def make_certificates(folder: Path) -> None:
    """A CA, a server certificate for localhost signed by it, a client certificate with
    ``CLIENT_USER`` as common name, and a second CA that signed neither (``other-ca.pem``)."""
    folder.mkdir(parents=True)
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        _openssl(
            folder, "req", "-x509", *NEW_KEY, f"{ca}.key", "-out", f"{ca}.pem", "-subj", f"/CN={ca}"
        )
    for name, subject in (("server", "localhost"), ("client", CLIENT_USER)):
        _openssl(
            folder, "req", *NEW_KEY, f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={subject}"
        )
        extensions = ["-extfile", "server.ext"] if name == "server" else []
        _openssl(
            folder,
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.pem",
            *extensions,
        )


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, capture_output=True, check=True)  # noqa: S603,S607


def ca_data(node: TlsNode) -> str:
    """The CA as the URL's ``cadata`` takes it (as aio-pika does): base64 of its DER form,
    percent-encoded for the URL."""
    der = ssl.PEM_cert_to_DER_cert(Path(node.file("ca.pem")).read_text())
    return quote(base64.b64encode(der).decode(), safe="")


def _password_hash(password: str) -> str:
    """RabbitMQ's default (rabbit_password_hashing_sha256): a salt, then SHA-256 of both."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _configure(node: TlsNode) -> None:
    home, certificates = node.home, node.certificates
    for folder in (home / "data", home / "log"):
        folder.mkdir(parents=True, exist_ok=True)
    definitions = {
        "users": [
            {"name": "guest", "password_hash": _password_hash("guest"), "tags": "administrator"},
            {"name": CLIENT_USER, "password_hash": "", "tags": ""},
        ],
        "vhosts": [{"name": "/"}, {"name": CERTIFIED_VHOST}],
        "permissions": [
            {"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
            for user, vhost in (("guest", "/"), (CLIENT_USER, "/"), (CLIENT_USER, CERTIFIED_VHOST))
        ],
    }
    (home / "definitions.json").write_text(json.dumps(definitions))
    (home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {AMQP_PORT}\n"
        f"listeners.ssl.default = {TLS_PORT}\n"
        f"ssl_options.cacertfile = {certificates / 'ca.pem'}\n"
        f"ssl_options.certfile = {certificates / 'server.pem'}\n"
        f"ssl_options.keyfile = {certificates / 'server.key'}\n"
        "ssl_options.verify = verify_peer\n"
        "ssl_options.fail_if_no_peer_cert = false\n"
        "auth_mechanisms.1 = PLAIN\n"
        "auth_mechanisms.2 = EXTERNAL\n"
        "ssl_cert_login_from = common_name\n"
        f"frame_max = {FRAME_MAX}\n"
        f"load_definitions = {home / 'definitions.json'}\n"
        "loopback_users = none\n"
        "log.console = false\n"
        "log.file.level = info\n"
    )
    (home / "advanced.config").write_text("[].\n")
    (home / "enabled_plugins").write_text("[rabbitmq_auth_mechanism_ssl].\n")
    (home / "rabbitmq-env.conf").write_text("")


def _wait_for_port(node: TlsNode, port: int) -> None:
    """Until the listener takes a connection: the node has booted and loaded its users."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise cluster.ClusterError(
        f"{node.name} did not listen on {port} within {START_TIMEOUT_S:.0f} s (log: {node.log})"
    )

"""``TASKHOOK_AMQP_URL`` as the nodes to try, each with a heartbeat that notices a dead link."""

import pytest

from taskhook.broker.connection import DEFAULT_HEARTBEAT_S, broker_urls, connection_failure


@pytest.mark.parametrize(
    ("setting", "urls"),
    [
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            [f"amqp://guest:guest@127.0.0.1:5672/?heartbeat={DEFAULT_HEARTBEAT_S}"],
        ),
        (
            "amqp://u:p@a:5681/vh?heartbeat=2",  # a heartbeat of its own is kept
            ["amqp://u:p@a:5681/vh?heartbeat=2"],
        ),
        (
            "amqp://u:pa%2Css@a:5681/",  # an encoded comma stays encoded: one node, not two
            [f"amqp://u:pa%2Css@a:5681/?heartbeat={DEFAULT_HEARTBEAT_S}"],
        ),
        (
            "amqp://u:p@a:5681/, amqps://u:p@b:5671/?name=x",
            [
                f"amqp://u:p@a:5681/?heartbeat={DEFAULT_HEARTBEAT_S}",
                f"amqps://u:p@b:5671/?name=x&heartbeat={DEFAULT_HEARTBEAT_S}",
            ],
        ),
    ],
)
def test_each_node_is_one_url_with_a_heartbeat(setting: str, urls: list[str]) -> None:
    assert broker_urls(setting) == urls


def test_what_went_wrong_is_said_whatever_the_url_holds() -> None:
    [node] = broker_urls("amqp://u:pa%2Css@a:5681/vh%2Cx")
    said = connection_failure(ConnectionRefusedError(111, "refused"), node)
    assert said == (
        "cannot reach the broker at a:5681 (vhost 'vh,x'): connection refused "
        "(is RabbitMQ running there?)"
    )

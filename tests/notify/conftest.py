"""Fixtures of the notification tests: the MQTT broker on loopback and a topic per test."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterator

import aiomqtt
import pytest
from notify_helpers import MQTT_HOST, MQTT_PORT, retained


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """The Mosquitto broker on 127.0.0.1:1883; skips with the reason when none answers,
    unless CI is "true", where that fails the test."""
    try:
        socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2).close()
    except OSError as exc:
        reason = f"no MQTT broker answers at {MQTT_HOST}:{MQTT_PORT}: {exc.strerror or exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI is true)")
        pytest.skip(reason)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def prefix(mqtt_broker: tuple[str, int]) -> Iterator[str]:
    """A topic prefix no other test uses; its retained messages are removed afterwards."""
    value = f"plantqc-test/{uuid.uuid4().hex}"
    yield value

    async def clear() -> None:
        topics = await retained(value, settle_s=0.3)
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
            for topic in topics:
                await client.publish(topic, b"", qos=1, retain=True)

    asyncio.run(clear())


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    # asyncua logs every publish at INFO and every refused reconnect with a traceback
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "mqtt_broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mqtt)

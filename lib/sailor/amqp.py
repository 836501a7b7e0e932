"""The link to the platform's broker (pika, blocking): one connection, a consumer channel with the
platform's prefetch, and a publisher channel in confirm mode, so a publish returns only once the broker
has taken the message. Everything here runs on the thread that owns the connection.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

from jobs_connector.sailor.messages import Outgoing
from jobs_connector.sailor.settings import Settings

log = logging.getLogger("jobs_connector.sailor")

# pika's BasicProperties fields copied from a message we send back (a rebound).
COPIED_PROPERTIES = ("content_type", "content_encoding", "priority", "correlation_id", "reply_to",
                     "message_id", "timestamp", "type", "app_id")


class PublishError(Exception):
    """The broker did not take a message (refused, unroutable, or over the size limit)."""


def broker_host(uri: str) -> str:
    """The broker's host and port, for logs: never the user name or password in the URI."""
    parts = urlsplit(uri)
    return f"{parts.hostname or '?'}:{parts.port or 5672}"


def properties_of(props: pika.BasicProperties | None) -> dict:
    return {name: getattr(props, name, None) for name in COPIED_PROPERTIES} if props else {}


class AmqpLink:
    def __init__(self, settings: Settings, sleep=time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.connection: pika.BlockingConnection | None = None
        self.consumer = None
        self.publisher = None

    # -- connecting -----------------------------------------------------------------------------

    def connect(self) -> AmqpLink:
        """Connect, retrying AMQP_RECONNECT_ATTEMPTS times AMQP_RECONNECT_TIMEOUT ms apart."""
        params = pika.URLParameters(self.settings.amqp_uri)
        params.client_properties = {"connection_name": f"{socket.gethostname()}-jobs-connector"}
        attempts = 0
        while True:
            try:
                self.connection = pika.BlockingConnection(params)
                break
            except AMQPError as exc:
                attempts += 1
                if attempts > self.settings.reconnect_attempts:
                    raise ConnectionError(f"cannot connect to the broker at {broker_host(self.settings.amqp_uri)}: "
                                          f"{type(exc).__name__}") from None
                log.warning("broker connection failed (%s), attempt %d", type(exc).__name__, attempts)
                self.sleep(self.settings.reconnect_timeout / 1000)
        self.publisher = self.connection.channel()
        self.publisher.confirm_delivery()
        if self.settings.processes_messages:
            self.consumer = self.connection.channel()
            self.consumer.basic_qos(prefetch_count=self.settings.prefetch)
        log.info("connected to the broker at %s (prefetch %d)", broker_host(self.settings.amqp_uri),
                 self.settings.prefetch)
        return self

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except AMQPError as exc:
                log.debug("closing the broker connection: %s", type(exc).__name__)
        self.connection = None

    @property
    def is_open(self) -> bool:
        return bool(self.connection and self.connection.is_open)

    # -- consuming ------------------------------------------------------------------------------

    def deliveries(self, inactivity_timeout: float) -> Iterator[tuple]:
        """(method, properties, body) for each message; (None, None, None) after each quiet interval."""
        return self.consumer.consume(self.settings.listen_messages_on, auto_ack=False,
                                     inactivity_timeout=inactivity_timeout)

    def stop_consuming(self) -> int:
        """Cancel the consumer; messages prefetched but not started go back to the queue."""
        if self.consumer is None or not self.consumer.is_open:
            return 0
        return self.consumer.cancel()

    def ack(self, delivery_tag: int) -> None:
        self.consumer.basic_ack(delivery_tag)

    def reject(self, delivery_tag: int) -> None:
        # Not requeued, as the sailors do after publishing the error: the platform has the error message.
        self.consumer.basic_reject(delivery_tag, requeue=False)

    def pump(self, seconds: float = 0) -> None:
        """Let the connection do its I/O (heartbeats) while a step runs on another thread."""
        self.connection.process_data_events(time_limit=seconds)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, message: Outgoing) -> None:
        """Publish and wait for the broker's confirm; a refused (nacked) message is sent again with a
        growing delay (AMQP_PUBLISH_RETRY_DELAY doubled, at most AMQP_PUBLISH_MAX_RETRY_DELAY) up to
        AMQP_PUBLISH_RETRY_ATTEMPTS times. An unroutable message is not retried: no queue takes it."""
        settings = self.settings
        if message.kind == "data" and len(message.body) > settings.outgoing_message_size_limit:
            raise PublishError(f"Outgoing message size {len(message.body)} exceeds limit of "
                               f"{settings.outgoing_message_size_limit}.")
        attempt = 0
        while True:
            headers = dict(message.headers)
            if attempt:
                headers["retry"] = attempt
            props = pika.BasicProperties(headers=headers, expiration=message.expiration,
                                         delivery_mode=2 if settings.persistent_messages else 1,
                                         **message.properties)
            try:
                self.publisher.basic_publish(settings.publish_messages_to, message.routing_key, message.body,
                                             props, mandatory=True)
                return
            except UnroutableError:
                raise PublishError(f"no queue is bound to routing key {message.routing_key!r} on exchange "
                                   f"{settings.publish_messages_to!r}") from None
            except NackError:
                attempt += 1
                if settings.publish_retry_attempts is not None and attempt >= settings.publish_retry_attempts:
                    raise PublishError(f"the broker refused the {message.kind} message {attempt} time(s)") from None
                delay = min(settings.publish_retry_delay * 2 ** (attempt - 1), settings.publish_max_retry_delay)
                log.warning("the broker refused the %s message; trying again in %d ms", message.kind, delay)
                self.connection.sleep(delay / 1000)

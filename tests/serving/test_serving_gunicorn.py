"""Gunicorn's settings come from the service, with graceful shutdown and no shared sockets."""

from __future__ import annotations

from gunicorn.config import Config

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Service
from liminal_pulumi.serving.gunicorn_config import gunicorn_options
from liminal_pulumi.serving.settings import ServerSettings


def test_options_follow_the_service() -> None:
    service = Service(service="s", image="i", port=9001, workers=3, threads=2, timeout_seconds=12)
    options = gunicorn_options(ServerSettings.from_service(service, host="127.0.0.1"))
    assert options["bind"] == ["127.0.0.1:9001"]
    assert (options["workers"], options["threads"], options["timeout"]) == (3, 2, 12)
    assert options["worker_class"] == "gthread"
    assert options["graceful_timeout"] == defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS
    assert options["control_socket_disable"] is True


def test_ipv6_hosts_are_bracketed_and_every_option_is_a_gunicorn_setting() -> None:
    options = gunicorn_options(ServerSettings(host="::1", port=8080))
    assert options["bind"] == ["[::1]:8080"]
    config = Config()
    for key, value in options.items():
        if key in config.settings:  # as GunicornServer.load_config does
            config.set(key, value)
    assert config.workers == defaults.SERVICE_WORKERS
    assert config.threads == defaults.SERVICE_THREADS
    assert config.worker_class_str == "gthread"

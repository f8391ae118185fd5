"""Running the portal under gunicorn, in-process, with Sealbox's settings."""

from __future__ import annotations

import logging
import os
import re
import signal
from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from sealbox.vault import seal, unlock

log = logging.getLogger("sealbox.service.web")

# One-time link tokens must not outlive their use in an access log.
_TOKEN_PATH = re.compile(r"(/(?:activate|reset)/)[^/\s?]+")


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):  # "r" is not in the format, but redact it all the same
            if key in atoms:
                atoms[key] = _TOKEN_PATH.sub(r"\1[token]", atoms[key])
        atoms["q"] = ""
        return atoms


class PortalApplication(BaseApplication):
    def __init__(self, bind: str, workers: int) -> None:
        self.bind = bind
        self.workers = workers
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        for key, value in {
            "bind": [self.bind],
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 120,
            "graceful_timeout": 20,
            "preload_app": True,
            "accesslog": "-",
            "errorlog": "-",
            # Method and path only: query strings are never logged.
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
            "logger_class": RedactingLogger,
            "forwarded_allow_ips": "",
            "proc_name": "sealbox-web",
            "limit_request_line": 8190,
            "control_socket_disable": True,
            "when_ready": _when_ready,
        }.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from sealbox.wsgi import application

        return application


def _when_ready(server: Any) -> None:
    """With the storage key still locked, ask for it while the workers answer "locked".

    Once it is unlocked here, in the master, a HUP makes gunicorn fork fresh
    workers, which hold the key from birth: the password is asked once per
    start however many workers there are.
    """
    if settings.STORAGE_ENCRYPTION and not seal.held():
        master = os.getpid()

        def restart_workers() -> None:
            log.info("storage key unlocked; starting workers that hold it")
            os.kill(master, signal.SIGHUP)

        def stop() -> None:
            os.kill(master, signal.SIGTERM)

        unlock.in_background(restart_workers, stop)


def run(bind: str) -> None:
    # A configured password unlocks the key here, before any worker is forked;
    # a wrong one stops the start with a configuration error.
    if settings.STORAGE_ENCRYPTION:
        seal.require_key_file()
        seal.unlock_configured()
    PortalApplication(bind, settings.WEB_WORKERS).run()

"""Running the portal under gunicorn, in-process, with Sealbox's settings."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

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
        }.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from sealbox.wsgi import application

        return application


def run(bind: str) -> None:
    PortalApplication(bind, settings.WEB_WORKERS).run()

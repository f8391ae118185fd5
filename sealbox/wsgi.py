"""The portal as a WSGI application, for gunicorn (`sealbox web`) or another WSGI server."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

from sealbox import datadir

# What the portal writes is the service user's alone, whichever server loaded it.
datadir.private_umask()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sealbox.settings")
application = get_wsgi_application()
_missing = datadir.not_set_up()
if _missing:
    raise ImproperlyConfigured(datadir.refusal(_missing))

"""Sealbox's settings with bench.urls as the URL configuration, for the portal section.

The portal section runs `sealbox web` with DJANGO_SETTINGS_MODULE=bench.settings
so that the trivial baseline views are served by the same gunicorn, middleware
and database as the real pages. Nothing else differs from sealbox.settings.
"""

from sealbox.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

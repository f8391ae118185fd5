from __future__ import annotations

import pytest
from django.test import Client

from sealbox.accounts.models import User


@pytest.fixture
def reader(client: Client, alice: User) -> Client:
    """Alice, signed in."""
    client.force_login(alice)
    return client

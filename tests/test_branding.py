"""branding.py's rules that need no page: what a link's visible host is."""

from __future__ import annotations

import pytest

from sealbox import branding


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://secure.corp.example/inbox", "secure.corp.example"),
        ("https://Secure.Corp.Example", "secure.corp.example"),
        ("https://secure.corp.example:443/", "secure.corp.example"),
        ("http://secure.corp.example:80/", "secure.corp.example"),
        ("https://secure.corp.example:8443/x", "secure.corp.example:8443"),
        ("http://secure.corp.example:443/", "secure.corp.example:443"),
        ("https://paypal.example@evil.example/login", "evil.example"),
        ("https://user:secret@www.corp.example:8443/privacy", "www.corp.example:8443"),
        ("https://[2001:db8::1]:8443/", "[2001:db8::1]:8443"),
    ],
)
def test_a_links_host_is_its_hostname_and_any_port_but_never_a_user(url: str, shown: str) -> None:
    assert branding.host(url) == shown

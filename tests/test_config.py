from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sealbox.config import ConfigError, Env, load_or_create_secret_key, parse_env_file
from tests.conftest import SEALBOX, process_env

ENV_FILE = r"""
# Sealbox settings
; also a comment
SEALBOX_BASE_URL=https://secure.example.org
  SEALBOX_SITE_NAME = Secure Mail{TRAILING_BLANKS}
SEALBOX_NOTIFY_FROM="Secure Mail <secure@example.org>"
SEALBOX_RELAY_URL='smtp://relay:25/#not-a-comment'
SEALBOX_SECRET="tab\there \"quoted\" back\\slash\nnewline"
SEALBOX_INTERNAL_DOMAINS=example.org \
example.net
export SEALBOX_LOG_LEVEL=debug
SEALBOX_EMPTY=
SEALBOX_HASH=value # stays
""".replace("{TRAILING_BLANKS}", " \t ")


def test_it_reads_systemd_environment_files() -> None:
    assert parse_env_file(ENV_FILE) == {
        "SEALBOX_BASE_URL": "https://secure.example.org",
        "SEALBOX_SITE_NAME": "Secure Mail",
        "SEALBOX_NOTIFY_FROM": "Secure Mail <secure@example.org>",
        "SEALBOX_RELAY_URL": "smtp://relay:25/#not-a-comment",
        "SEALBOX_SECRET": 'tab\there "quoted" back\\slash\nnewline',
        "SEALBOX_INTERNAL_DOMAINS": "example.org example.net",
        "SEALBOX_LOG_LEVEL": "debug",
        "SEALBOX_EMPTY": "",
        "SEALBOX_HASH": "value # stays",
    }


def test_it_names_the_file_and_line_of_a_bad_line() -> None:
    text = "SEALBOX_A=1\n# fine\nSEALBOX_B=one \\\ntwo\nthis is not an assignment\n"

    with pytest.raises(ConfigError) as error:
        parse_env_file(text, origin="/etc/sealbox.env")

    assert str(error.value).startswith("/etc/sealbox.env, line 5: expected NAME=VALUE")


def test_it_refuses_an_unterminated_quote() -> None:
    with pytest.raises(ConfigError, match=r"line 2: unterminated quote"):
        parse_env_file('SEALBOX_A=1\nSEALBOX_B="no end\n')


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (("bool", "DEBUG", False), "maybe", "SEALBOX_DEBUG: expected on or off, got 'maybe'"),
        (
            ("int", "WEB_WORKERS", 2),
            "ten",
            "SEALBOX_WEB_WORKERS: expected a whole number, got 'ten'",
        ),
        (("int", "WEB_WORKERS", 2, 1), "0", "SEALBOX_WEB_WORKERS: must be at least 1, got 0"),
        (
            ("duration", "RELAY_TIMEOUT", "60s"),
            "5 weeks",
            "SEALBOX_RELAY_TIMEOUT: expected a duration like 30s, 5m, 2h or 5d, got '5 weeks'",
        ),
        (
            ("duration", "HTML_TIME_LIMIT", "5s", 1),
            "0s",
            "SEALBOX_HTML_TIME_LIMIT: must be at least 1s, got '0s'",
        ),
        (
            ("networks", "SMTP_ALLOWED_NETWORKS", ""),
            "10.0.0.0/8, not-a-net",
            "SEALBOX_SMTP_ALLOWED_NETWORKS: 'not-a-net' is not an IP network",
        ),
        (
            ("choice", "LOG_LEVEL", "info", ("info", "debug")),
            "loud",
            "SEALBOX_LOG_LEVEL: expected one of info, debug, got 'loud'",
        ),
    ],
)
def test_a_bad_value_stops_with_a_message_naming_the_variable(
    read: tuple[Any, ...], value: str, message: str
) -> None:
    method, name, *args = read
    env = Env({f"SEALBOX_{name}": value})

    with pytest.raises(ConfigError) as error:
        getattr(env, method)(name, *args)

    assert str(error.value) == message


def test_good_values_are_read_with_their_types() -> None:
    env = Env(
        {
            "SEALBOX_DEBUG": " Yes ",
            "SEALBOX_WEB_WORKERS": "4",
            "SEALBOX_RELAY_TIMEOUT": "2m",
            "SEALBOX_SMTP_ALLOWED_NETWORKS": "10.1.2.3/8 ::1",
            "SEALBOX_INTERNAL_DOMAINS": "example.org,example.net  corp.example",
        }
    )

    assert env.bool("DEBUG", False) is True
    assert env.int("WEB_WORKERS", 2) == 4
    assert env.duration("RELAY_TIMEOUT", "60s") == 120
    assert env.duration("OUTGOING_RETRY_FOR", "5d") == 5 * 86400
    assert [str(n) for n in env.networks("SMTP_ALLOWED_NETWORKS", "")] == ["10.0.0.0/8", "::1/128"]
    assert env.list("INTERNAL_DOMAINS") == ["example.org", "example.net", "corp.example"]


def test_an_empty_value_is_read_as_empty() -> None:
    values = parse_env_file("SEALBOX_RELAY_URL=\nSEALBOX_DEBUG=off\n")

    assert values == {"SEALBOX_RELAY_URL": "", "SEALBOX_DEBUG": "off"}
    assert Env(values).secret("RELAY_URL") is None


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "relay-url"
    secret.write_text("smtp://user:pa55@relay.example.org\n")

    env = Env({"SEALBOX_RELAY_URL_FILE": str(secret)})

    assert env.secret("RELAY_URL") == "smtp://user:pa55@relay.example.org"


def test_a_secret_given_both_ways_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-file")
    env = Env({"SEALBOX_SECRET_KEY": "direct", "SEALBOX_SECRET_KEY_FILE": str(secret)})

    with pytest.raises(ConfigError, match="either SEALBOX_SECRET_KEY or SEALBOX_SECRET_KEY_FILE"):
        env.secret("SECRET_KEY")


def test_an_unreadable_secret_file_is_an_error_naming_it(tmp_path: Path) -> None:
    env = Env({"SEALBOX_SECRET_KEY_FILE": str(tmp_path / "missing")})

    with pytest.raises(ConfigError, match=r"SEALBOX_SECRET_KEY_FILE: cannot read .*missing"):
        env.secret("SECRET_KEY")


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)  # by datadir.set_up()

    key = load_or_create_secret_key(data_dir)

    key_file = data_dir / "secret_key"
    assert len(key) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_secret_key(data_dir) == key
    assert key_file.read_text().strip() == key
    assert os.listdir(data_dir) == ["secret_key"]


def test_sealbox_check_names_a_bad_setting_in_one_line(settings: Any, db: Any) -> None:
    result = subprocess.run(
        [*SEALBOX, "check"],
        env=process_env(settings.DATA_DIR, SEALBOX_SMTP_MAX_MESSAGE_MB="abc"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "sealbox: configuration error: SEALBOX_SMTP_MAX_MESSAGE_MB: "
        "expected a whole number, got 'abc'"
    ]


@pytest.mark.parametrize("name", ["HTML_TIME_LIMIT", "SMTP_IDLE_TIMEOUT", "SMTP_SESSION_LIMIT"])
def test_a_time_limit_of_zero_is_a_configuration_error(settings: Any, db: Any, name: str) -> None:
    # Not "every HTML message shown as text", nor a silent second.
    result = subprocess.run(
        [*SEALBOX, "check"],
        env=process_env(settings.DATA_DIR, **{f"SEALBOX_{name}": "0"}),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"sealbox: configuration error: SEALBOX_{name}: must be at least 1s, got '0'"
    ]


def test_sealbox_check_names_a_bad_env_file_line(settings: Any, db: Any, tmp_path: Path) -> None:
    env_file = tmp_path / "sealbox.env"
    env_file.write_text("SEALBOX_SITE_NAME=Secure Mail\nSEALBOX_DEBUG on\n")

    result = subprocess.run(
        [*SEALBOX, "check"],
        env=process_env(settings.DATA_DIR, SEALBOX_ENV_FILE=str(env_file)),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"sealbox: configuration error: {env_file}, line 2: "
        "expected NAME=VALUE, got 'SEALBOX_DEBUG on'"
    ]

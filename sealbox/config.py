"""Typed readers for the SEALBOX_* environment variables.

Every setting comes from the environment, optionally filled in from an env file
named by SEALBOX_ENV_FILE (systemd EnvironmentFile syntax). A bad value stops
the process with a message naming the variable: a typo must never silently
fall back to a default.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PREFIX = "SEALBOX_"

_TRUE = {"1", "on", "yes", "true"}
_FALSE = {"0", "off", "no", "false", ""}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ImproperlyConfigured):
    pass


def parse_env_file(text: str, origin: str = "env file") -> dict[str, str]:
    """Parse systemd EnvironmentFile syntax.

    One KEY=VALUE a line; blank lines and lines starting with # or ; are
    comments; a value may be wrapped in single or double quotes; inside double
    quotes backslash escapes \\" \\\\ \\n \\t work; a trailing backslash joins
    the next line. No variable expansion, as in systemd.
    """
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + lines[i]
            i += 1
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, raw = stripped.partition("=")
        key = key.strip()
        if not sep or not _ENV_NAME.match(key):
            raise ConfigError(f"{origin}, line {i}: expected NAME=VALUE, got {stripped[:40]!r}")
        values[key] = _unquote(raw.strip(), f"{origin}, line {i}")
    return values


def _unquote(raw: str, where: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body, out, j = raw[1:-1], [], 0
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'", "$": "$"}
        while j < len(body):
            ch = body[j]
            if ch == "\\" and j + 1 < len(body):
                out.append(escapes.get(body[j + 1], "\\" + body[j + 1]))
                j += 2
                continue
            out.append(ch)
            j += 1
        return "".join(out)
    if raw.startswith(("'", '"')):
        raise ConfigError(f"{where}: unterminated quote")
    return raw


def load_env_file(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Fill in variables from SEALBOX_ENV_FILE; the real environment wins."""
    path = environ.get(PREFIX + "ENV_FILE")
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"SEALBOX_ENV_FILE: cannot read {path}: {e.strerror}") from e
    for key, value in parse_env_file(text, origin=path).items():
        environ.setdefault(key, value)
    return path


class Env:
    """Typed access to SEALBOX_* variables of one environment mapping."""

    def __init__(self, environ: Mapping[builtins.str, builtins.str]) -> None:
        self.environ = environ

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self.environ.get(PREFIX + name)
        if value is None:
            return None
        return value.strip()

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self._raw(name)
        return default if value is None or value == "" else value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(f"{PREFIX}{name}: expected on or off, got {value!r}")

    def int(
        self, name: builtins.str, default: builtins.int, minimum: builtins.int | None = 0
    ) -> builtins.int:
        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}: expected a whole number, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(f"{PREFIX}{name}: must be at least {minimum}, got {number}")
        return number

    def duration(
        self, name: builtins.str, default: builtins.str, minimum: builtins.int = 0
    ) -> builtins.int:
        """Seconds, from a number with an optional unit: 90, 30s, 5m, 2h, 5d; at least minimum."""
        value = self._raw(name) or default
        match = re.fullmatch(r"(\d+)\s*([smhd]?)", value.lower())
        if not match:
            raise ConfigError(
                f"{PREFIX}{name}: expected a duration like 30s, 5m, 2h or 5d, got {value!r}"
            )
        seconds = int(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
        if seconds < minimum:
            raise ConfigError(f"{PREFIX}{name}: must be at least {minimum}s, got {value!r}")
        return seconds

    def list(self, name: builtins.str, default: builtins.str = "") -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value is None:
            value = default
        return [item.strip() for item in re.split(r"[,\s]+", value) if item.strip()]

    def int_list(
        self, name: builtins.str, default: builtins.str, minimum: builtins.int = 0
    ) -> builtins.list[builtins.int]:
        numbers = []
        for item in self.list(name, default):
            if not item.isdigit() or int(item) < minimum:
                raise ConfigError(
                    f"{PREFIX}{name}: expected whole numbers of at least {minimum}, got {item!r}"
                )
            numbers.append(int(item))
        return numbers

    def choice(
        self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]
    ) -> builtins.str:
        value = (self._raw(name) or default).lower()
        if value not in choices:
            raise ConfigError(
                f"{PREFIX}{name}: expected one of {', '.join(choices)}, got {value!r}"
            )
        return value

    def networks(
        self, name: builtins.str, default: builtins.str
    ) -> builtins.list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        nets = []
        for item in self.list(name, default):
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(f"{PREFIX}{name}: {item!r} is not an IP network") from None
        return nets

    def secret(self, name: builtins.str) -> builtins.str | None:
        """A secret given directly or, with NAME_FILE, read from a file."""
        direct = self._raw(name)
        path = self._raw(name + "_FILE")
        if direct and path:
            raise ConfigError(f"set either {PREFIX}{name} or {PREFIX}{name}_FILE, not both")
        if path:
            try:
                return Path(path).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(f"{PREFIX}{name}_FILE: cannot read {path}: {e.strerror}") from e
        return direct or None

    def path(self, name: builtins.str, default: builtins.str = "") -> Path | None:
        value = self.str(name, default)
        return Path(value).expanduser().absolute() if value else None


def read_secret_key(data_dir: Path) -> str:
    """The secret key kept in the data directory; empty if there is none yet."""
    key_file = data_dir / "secret_key"
    try:
        return key_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""


def load_or_create_secret_key(data_dir: Path) -> str:
    """Read the secret key kept in the data directory (made by datadir.set_up), creating it once."""
    import secrets

    key_file = data_dir / "secret_key"
    key = read_secret_key(data_dir)
    if key:
        return key
    key = secrets.token_urlsafe(50)
    tmp = data_dir / f".secret_key.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise ConfigError(
            f"cannot create the secret key file in {data_dir}: {e.strerror}"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        # link() fails if another process created the key first: then use theirs.
        os.link(tmp, key_file)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return key_file.read_text(encoding="ascii").strip()

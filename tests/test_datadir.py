"""The data directory: private on disk, and never made by a command that should not make it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INTERNAL, SEALBOX
from tests.mail import make_message

pytestmark = pytest.mark.slow


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory any local user may enter (pytest's own are private to root)."""
    parent = Path(tempfile.mkdtemp(prefix="sealbox-open-", dir="/tmp"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent)


def fresh_env(data_dir: Path | None) -> dict[str, str]:
    """A `sealbox` process with nothing but defaults: SQLite and the secret key in the data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(SEALBOX_INTERNAL_DOMAINS=INTERNAL, PYTHONUNBUFFERED="1")
    if data_dir is not None:
        env["SEALBOX_DATA_DIR"] = str(data_dir)
    return env


def sealbox(
    env: dict[str, str], *args: str, cwd: Path | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """Run `sealbox ARGS` as an operator whose shell has the usual umask 022."""
    return subprocess.run(
        [*SEALBOX, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def modes(top: Path) -> dict[str, str]:
    found = {".": f"{stat.S_IMODE(top.stat().st_mode):o}"}
    for path in top.rglob("*"):
        found[str(path.relative_to(top))] = f"{stat.S_IMODE(path.lstat().st_mode):o}"
    return found


def set_up_with_mail(data_dir: Path) -> dict[str, str]:
    env = fresh_env(data_dir)
    assert sealbox(env, "migrate", "--verbosity", "0").returncode == 0
    delivered = sealbox(
        env,
        "deliver",
        "--from",
        "carol@corp.example",
        "dora@example.com",
        stdin=make_message(to="dora@example.com"),
    )
    assert delivered.returncode == 0, delivered.stderr
    sent = sealbox(env, "worker", "--once")
    assert sent.returncode == 0, sent.stderr
    return env


def test_it_keeps_every_file_private_under_a_wide_umask(open_parent: Path) -> None:
    data_dir = open_parent / "var"

    set_up_with_mail(data_dir)

    found = modes(data_dir)
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1
    assert len(list((data_dir / "messages").glob("*/*.eml"))) == 1
    assert {"sealbox.sqlite3", "secret_key", "outbox", "messages"} <= set(found)
    wide = {
        name: mode
        for name, mode in found.items()
        if mode != ("700" if (data_dir / name).is_dir() else "600")
    }
    assert wide == {}


def test_it_keeps_other_local_users_out_of_the_database(open_parent: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    data_dir = open_parent / "var"
    set_up_with_mail(data_dir)

    for path in (data_dir / "sealbox.sqlite3", data_dir / "secret_key"):
        other = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(path)],
            capture_output=True,
            timeout=30,
        )
        assert other.returncode != 0
        assert b"Permission denied" in other.stderr
        assert other.stdout == b""


def test_check_deploy_reports_a_data_directory_open_to_others_and_migrate_closes_it(
    open_parent: Path,
) -> None:
    data_dir = open_parent / "var"
    env = set_up_with_mail(data_dir)
    data_dir.chmod(0o755)
    (data_dir / "sealbox.sqlite3").chmod(0o644)
    (data_dir / "outbox").chmod(0o755)

    check = sealbox(env, "check", "--deploy")

    assert check.returncode != 0
    errors = check.stderr.decode()
    assert f"(sealbox.E007) {data_dir} is open to other users (mode 0755)" in errors
    assert f"(sealbox.E007) {data_dir / 'sealbox.sqlite3'} is open to other users (mode 0644)" in (
        errors
    )
    # An install made with wider modes: migrate takes them back, and check is content.
    assert sealbox(env, "migrate", "--verbosity", "0").returncode == 0
    assert {modes(data_dir)[name] for name in (".", "sealbox.sqlite3", "outbox")} == {"700", "600"}
    assert "sealbox.E007" not in sealbox(env, "check", "--deploy").stderr.decode()


def test_check_deploy_reports_an_encryption_key_open_to_others(tmp_path: Path) -> None:
    env = fresh_env(tmp_path / "var")
    key = tmp_path / "service.key"
    key.write_bytes(b"not looked at")
    key.chmod(0o640)
    env.update(
        SEALBOX_STORAGE_ENCRYPTION="on",
        SEALBOX_ENCRYPTION_CERTS=str(tmp_path / "certs.pem"),
        SEALBOX_ENCRYPTION_KEY=str(key),
    )

    check = sealbox(env, "check", "--deploy")

    assert f"(sealbox.E107) SEALBOX_ENCRYPTION_KEY {key} is open to other users (mode 0640)" in (
        check.stderr.decode()
    )
    assert f"HINT: chmod go= {key}\n" in check.stderr.decode()  # as for the data directory (E007)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("mailbox", "list"), 2),
        (("user", "list"), 2),
        (("deliver", "--from", "a@b.example", "x@y.example"), 75),
    ],
)
def test_it_refuses_a_data_directory_that_was_never_set_up(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = sealbox(fresh_env(None), *args, cwd=elsewhere, stdin=make_message())

    assert result.returncode == code
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert lines == [
        f"sealbox: SEALBOX_DATA_DIR {elsewhere / 'var'} is not set up (it does not exist): "
        "run `sealbox migrate` first, or point SEALBOX_DATA_DIR at the service's data directory"
    ]
    assert list(elsewhere.iterdir()) == []


def test_it_refuses_an_empty_data_directory_and_writes_nothing_into_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()

    result = sealbox(fresh_env(data_dir), "stats")

    assert result.returncode == 2
    assert f"{data_dir / 'secret_key'} is missing" in result.stderr.decode()
    assert list(data_dir.iterdir()) == []


def test_help_and_check_need_no_data_directory_and_make_none(tmp_path: Path) -> None:
    env, elsewhere = fresh_env(None), tmp_path / "elsewhere"
    elsewhere.mkdir()

    assert sealbox(env, "help", "mailbox", cwd=elsewhere).returncode == 0
    assert sealbox(env, "mailbox", "--help", cwd=elsewhere).returncode == 0
    assert sealbox(env, "--version", cwd=elsewhere).returncode == 0
    check = sealbox(env, "check", cwd=elsewhere)

    assert f"(sealbox.E001) The data directory {elsewhere / 'var'} does not exist." in (
        check.stderr.decode()
    )
    assert list(elsewhere.iterdir()) == []


def test_migrate_tightens_a_linked_data_directory_but_never_what_links_inside_lead_to(
    open_parent: Path,
) -> None:
    real = open_parent / "real"
    env = set_up_with_mail(real)
    real.chmod(0o755)
    (real / "sealbox.sqlite3").chmod(0o644)
    # Someone who can write in the data directory leaves links to files of root's.
    outside = open_parent / "passwd"
    outside.write_text("root:x:0:0\n")
    outside.chmod(0o644)
    (real / "outbox" / "trap.eml").symlink_to(outside)
    (real / "trap-dir").symlink_to(open_parent)
    linked = open_parent / "linked"
    linked.symlink_to(real)
    env["SEALBOX_DATA_DIR"] = str(linked)

    assert sealbox(env, "migrate", "--verbosity", "0").returncode == 0

    assert {modes(real)[name] for name in (".", "sealbox.sqlite3")} == {"700", "600"}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert stat.S_IMODE(open_parent.stat().st_mode) == 0o755
    assert "sealbox.E007" not in sealbox(env, "check", "--deploy").stderr.decode()

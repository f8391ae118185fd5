"""Low and full disk, on a real small file system: the reserve, /healthz and intake."""

from __future__ import annotations

import smtplib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from sealbox import diskspace
from sealbox.mailstore.models import Message
from tests.conftest import CAROL, SEALBOX, LiveSMTP, process_env
from tests.intake.stored import client_bytes, files_under
from tests.mail import make_message
from tests.service.fulldisk import MIB, fill, free

DAVE = "dave@example.com"


@pytest.fixture
def data_dir(small_disk: Path, settings: Any) -> Path:
    """The data directory on the small file system, its reserve in place (as the worker makes it)."""
    settings.DATA_DIR = small_disk / "data"
    settings.DATA_DIR.mkdir()
    (settings.DATA_DIR / "tmp").mkdir()
    settings.MIN_FREE_MB = 4
    assert diskspace.restore_reserve()
    return Path(settings.DATA_DIR)


def test_it_makes_the_reserve_only_with_the_minimum_left_besides(
    small_disk: Path, settings: Any
) -> None:
    settings.DATA_DIR = small_disk
    settings.MIN_FREE_MB = 4
    fill(small_disk, leave=diskspace.RESERVE_BYTES + 3 * MIB)

    assert not diskspace.restore_reserve()
    assert not (small_disk / "reserve").exists()

    (small_disk / "filler").unlink()
    assert diskspace.restore_reserve()
    reserve = small_disk / "reserve"
    assert reserve.stat().st_size == diskspace.RESERVE_BYTES
    assert reserve.stat().st_mode & 0o777 == 0o600


def test_intake_counts_a_released_reserve_as_taken(data_dir: Path) -> None:
    fill(data_dir.parent, leave=5 * MIB)
    assert diskspace.has_room(512 * 1024)

    assert diskspace.release_reserve()

    # 13 MiB free now, but 8 of them are the reserve's: only 5 for mail, as before.
    assert free(data_dir) >= 12 * MIB
    assert diskspace.has_room(512 * 1024)
    assert not diskspace.has_room(2 * MIB)


def test_healthz_says_ok_with_room(client: Client, db: Any, data_dir: Path) -> None:
    response = client.get("/healthz")

    assert (response.status_code, response.content) == (200, b"ok\n")


def test_healthz_warns_of_low_space_while_intake_still_takes_mail(
    client: Client, data_dir: Path, live_smtp: LiveSMTP, settings: Any
) -> None:
    fill(data_dir.parent, leave=6 * MIB + MIB // 2)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == (
        b"low disk space: 6 MiB free in the data directory; new mail is refused below 4 MiB\n"
    )
    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as smtp:
        assert smtp.sendmail(CAROL, [DAVE], make_message(to=DAVE)) == {}
    assert Message.objects.count() == 1


def test_below_the_minimum_intake_answers_452_4_3_1_and_healthz_503(
    client: Client, data_dir: Path, live_smtp: LiveSMTP, settings: Any
) -> None:
    data = make_message(to=DAVE)
    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as smtp:
        assert smtp.sendmail(CAROL, [DAVE], data) == {}
    [kept] = Message.objects.all()
    fill(data_dir.parent, leave=3 * MIB + MIB // 2)

    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as smtp:
        smtp.ehlo("gateway.corp.example")
        assert smtp.mail(CAROL)[0] == 250
        code, reply = smtp.rcpt(DAVE)
    # Temporary: the gateway keeps the mail and tries again later.
    assert (code, reply) == (452, b"4.3.1 Insufficient system storage, please try again later")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert b"low disk space: 3 MiB free" in response.content
    assert b"new mail is refused below 4 MiB" in response.content
    # What was stored before is all there, and nothing half-stored besides.
    assert list(Message.objects.all()) == [kept]
    assert client_bytes(kept) == data
    assert files_under("tmp") == []

    (data_dir.parent / "filler").unlink()
    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as smtp:
        assert smtp.sendmail(CAROL, [DAVE], data) == {}
    assert Message.objects.count() == 2


def test_deliver_exits_75_with_4_3_1_below_the_minimum(
    transactional_db: Any, data_dir: Path
) -> None:
    fill(data_dir.parent, leave=3 * MIB)

    result = subprocess.run(
        [*SEALBOX, "deliver", "--from", CAROL, DAVE],
        input=make_message(to=DAVE),
        env=process_env(data_dir, SEALBOX_MIN_FREE_MB="4"),
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 75
    assert result.stderr.decode() == (
        "sealbox deliver: 4.3.1 Insufficient system storage, please try again later\n"
    )
    assert not Message.objects.exists()
    assert files_under("messages") == files_under("tmp") == []


def test_a_healthz_probe_on_a_full_disk_leaves_no_file_behind(
    client: Client, db: Any, data_dir: Path
) -> None:
    diskspace.release_reserve()
    fill(data_dir.parent)

    response = client.get("/healthz")

    assert list((data_dir / "tmp").iterdir()) == []
    assert response.status_code == 503
    assert response.content.startswith(b"data directory full; low disk space: 0 MiB free")


def write_file(path: Path, size: int) -> int:
    """A write that needs `size` bytes of the disk, all or nothing."""
    try:
        path.write_bytes(b"\x5a" * size)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return size


def test_an_essential_write_on_a_full_disk_gets_the_reserve(data_dir: Path) -> None:
    fill(data_dir.parent)
    needed = diskspace.retry_when_full(write_file)

    assert needed(data_dir / "session", 2 * MIB) == 2 * MIB

    assert (data_dir / "session").stat().st_size == 2 * MIB
    assert not (data_dir / "reserve").exists()


def test_a_write_that_can_wait_is_skipped_and_the_reserve_kept(data_dir: Path) -> None:
    fill(data_dir.parent)

    with diskspace.unless_full("read mark"):
        write_file(data_dir / "read-mark", 64 * 1024)

    assert not (data_dir / "read-mark").exists()
    assert (data_dir / "reserve").stat().st_size == diskspace.RESERVE_BYTES


def test_other_errors_are_neither_retried_nor_skipped(data_dir: Path) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise PermissionError("not this")

    with pytest.raises(PermissionError):
        diskspace.retry_when_full(broken)()
    with pytest.raises(PermissionError), diskspace.unless_full("read mark"):
        broken()
    assert calls == [1, 1]
    assert (data_dir / "reserve").exists()


def test_the_worker_makes_the_reserve_again_once_there_is_room(
    transactional_db: Any, data_dir: Path
) -> None:
    assert diskspace.release_reserve()
    filler = fill(data_dir.parent, leave=diskspace.RESERVE_BYTES)

    call_command("worker", "--once")
    assert not (data_dir / "reserve").exists()

    filler.unlink()
    call_command("worker", "--once")
    assert (data_dir / "reserve").stat().st_size == diskspace.RESERVE_BYTES

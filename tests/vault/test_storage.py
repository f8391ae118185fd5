"""`sealbox storage encrypt-existing | rotate | verify`, run as the operator runs them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.housekeeping import reseal
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from sealbox.outbound import notify
from sealbox.outbound.models import OutgoingEmail
from sealbox.vault import keys, seal
from tests.conftest import SEALBOX, process_env
from tests.mail import make_message
from tests.portal.pages import deliver_to, inbox_rows, page
from tests.vault.conftest import KeyFiles, Vault, encryption_env, make_pair
from tests.vault.test_sealing import openssl_decrypt

# The commands run in other processes, which see only committed rows.
# Each test starts `sealbox` processes: outside `make check`'s fast lane, in `make test`.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def storage_env(vault: Vault | None, **extra: str) -> dict[str, str]:
    """A `sealbox storage` process on this test's data and database, password configured."""
    if vault is None:
        return process_env(Path(settings.DATA_DIR), **extra)
    return process_env(
        Path(settings.DATA_DIR),
        **encryption_env(vault, SEALBOX_ENCRYPTION_KEY_PASSWORD=vault.service.password, **extra),
    )


def storage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEALBOX, "storage", *args], env=env, capture_output=True, text=True, timeout=60
    )


def deliver_many(user: User, count: int) -> dict[uuid.UUID, bytes]:
    """count messages; each one's bytes as a reader gets them."""
    stored = {}
    for i in range(count):
        message = deliver_to(user, make_message(subject=f"Report {i:03}", body=f"Figures {i}\n"))
        stored[message.id] = blobs.read(message.blob)
    return stored


def stored_files() -> set[str]:
    root = Path(settings.DATA_DIR)
    return {str(p.relative_to(root)) for p in (root / blobs.MESSAGES).glob("*/*")}


def inbox_subjects(reader: Any, pages: int) -> list[str]:
    subjects: list[str] = []
    for number in range(1, pages + 1):
        subjects += [row.subject for row in inbox_rows(page(reader.get(f"/inbox/?page={number}")))]
    return subjects


@contextlib.contextmanager
def stalled_at(position: int) -> Iterator[None]:
    """The message at `position` (in the order storage commands take them) cannot be read
    meanwhile: its file is a FIFO that nobody writes to, so a run stops there however fast
    it goes and however long a loaded machine keeps the test from interrupting it."""
    rel = Message.objects.order_by("id").values_list("blob", flat=True)[position]
    path = Path(settings.DATA_DIR) / rel
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path, 0o600)
    try:
        yield
    finally:
        path.unlink()
        path.write_bytes(data)
        path.chmod(0o600)


def interrupt_part_way(env: dict[str, str], how: signal.Signals) -> tuple[int, int, str]:
    """Start encrypt-existing, send it `how` once it reports progress; its pid, exit code, stderr.

    It cannot get past the middle message before the signal (stalled_at): without that,
    a test process kept off the CPU for a third of a second found the run finished. It
    takes Ctrl-C as from a terminal even when the tests run as a background job (which
    inherits SIGINT ignored), and is killed rather than waited for without end.
    """
    with stalled_at(Message.objects.count() // 2):
        process = subprocess.Popen(
            [*SEALBOX, "storage", "encrypt-existing"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert process.stderr is not None
        seen = []
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            for line in process.stderr:
                seen.append(line)
                if re.match(r"encrypting: [1-9]\d*/", line):
                    process.send_signal(how)
                    break
            seen.append(process.stderr.read())
            return process.pid, process.wait(timeout=30), "".join(seen)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()


def sealed_count() -> int:
    return Message.objects.filter(blob__endswith=".p7m").count()


def assert_all_sealed_as_before(before: dict[uuid.UUID, bytes], set_id: str) -> None:
    blobs_now = dict(Message.objects.values_list("id", "blob"))
    assert set(blobs_now) == set(before)
    assert sorted(blobs_now.values()) == sorted(
        blobs.relative_path(message_id, set_id) for message_id in before
    )
    # No .eml left, nothing superseded, nothing half written.
    assert stored_files() == set(blobs_now.values())
    assert list((Path(settings.DATA_DIR) / blobs.TMP).glob("*")) == []
    for message_id, blob in blobs_now.items():
        assert seal.is_sealed(blobs.read_stored(blob))
        assert blobs.read(blob) == before[message_id], message_id


def test_encrypt_existing_killed_part_way_and_run_again_loses_nothing(
    request: pytest.FixtureRequest, alice: User, reader: Any
) -> None:
    before = deliver_many(alice, 200)
    subjects = inbox_subjects(reader, pages=4)
    assert len(set(subjects)) == 200
    vault: Vault = request.getfixturevalue("encryption")
    env = storage_env(vault)

    pid, code, output = interrupt_part_way(env, signal.SIGKILL)

    assert code == -signal.SIGKILL
    assert re.search(r"^encrypting: \d+/200 \(\d+%\), \d+/s$", output, re.M), output
    done = sealed_count()
    assert 0 < done < 200
    # Killed while writing a file, it leaves this (it does so at random otherwise).
    tmp = Path(settings.DATA_DIR) / blobs.TMP
    tmp.mkdir(exist_ok=True)
    (tmp / f"{socket.gethostname()}~{pid}~{uuid.uuid4().hex}.tmp").write_bytes(b"0\x82")
    again = storage(env, "encrypt-existing")
    assert again.returncode == 0, again.stderr
    left = 200 - done
    assert f"encrypting: {left}/{left} (100%)" in again.stderr
    set_id = seal.recipients().set_id
    assert again.stdout.startswith(f"{left} message(s) encrypted to {set_id}.")
    assert_all_sealed_as_before(before, set_id)
    assert inbox_subjects(reader, pages=4) == subjects


def test_encrypt_existing_stops_cleanly_on_ctrl_c_and_needs_no_key_to_go_on(
    request: pytest.FixtureRequest, alice: User
) -> None:
    before = deliver_many(alice, 100)
    vault: Vault = request.getfixturevalue("encryption")

    _pid, code, output = interrupt_part_way(storage_env(vault), signal.SIGINT)

    assert code == 130
    assert "Interrupted. Nothing is half done: run the same command again to go on." in output
    assert 0 < sealed_count() < 100
    # Sealing needs only the certificates: no key, no password.
    certificates_only = storage_env(None, SEALBOX_STORAGE_ENCRYPTION="on")
    certificates_only["SEALBOX_ENCRYPTION_CERTS"] = str(vault.certs)
    again = storage(certificates_only, "encrypt-existing")
    assert again.returncode == 0, again.stderr
    assert_all_sealed_as_before(before, seal.recipients().set_id)


def test_encrypt_existing_refuses_while_encryption_is_off(alice: User) -> None:
    message = deliver_to(alice, make_message())

    result = storage(storage_env(None), "encrypt-existing")

    assert result.returncode != 0
    assert "SEALBOX_STORAGE_ENCRYPTION is off: turn it on" in result.stderr
    assert stored_files() == {message.blob}
    assert message.blob.endswith(".eml")


def openssl_opens(data: bytes, pair: KeyFiles, tmp_path: Path) -> bytes | None:
    sealed = tmp_path / f"{uuid.uuid4().hex}.p7m"
    sealed.write_bytes(data)
    try:
        return openssl_decrypt(sealed, pair, tmp_path / f"{sealed.stem}.out")
    except subprocess.CalledProcessError:
        return None


def test_rotate_re_encrypts_everything_to_the_new_certificates(
    request: pytest.FixtureRequest, settings: Any, alice: User, tmp_path: Path
) -> None:
    settings.NOTIFY_INTERVAL = 0
    plain = deliver_to(alice, make_message(subject="From the plain days"))
    vault: Vault = request.getfixturevalue("encryption")
    before = deliver_many(alice, 3)
    before[plain.id] = blobs.read(plain.blob)
    assert notify.send_due() == 1
    third = make_pair(tmp_path, "third", "third@corp.example", "third key password 333")
    new_pem = tmp_path / "new.pem"
    new_pem.write_bytes(vault.service.cert.read_bytes() + third.cert.read_bytes())
    new_set = keys.set_id(keys.load_certificates(new_pem))
    assert new_set != seal.recipients().set_id

    result = storage(storage_env(vault), "rotate", "--certs", str(new_pem))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"4 message(s) re-encrypted to certificate set {new_set}."
    assert "Note: SEALBOX_ENCRYPTION_CERTS" in result.stderr  # still names the old set
    assert_all_sealed_as_before(before, new_set)
    row = Message.objects.values("blob", "sealed_summary").get(id=plain.id)
    on_disk = blobs.read_stored(row["blob"])
    assert openssl_opens(on_disk, third, tmp_path) == before[plain.id]
    assert openssl_opens(on_disk, vault.escrow, tmp_path) is None
    assert row["sealed_summary"] is not None
    summary = bytes(row["sealed_summary"])
    assert b'"subject":"From the plain days"' in (openssl_opens(summary, third, tmp_path) or b"")
    assert openssl_opens(summary, vault.escrow, tmp_path) is None
    queued = bytes(OutgoingEmail.objects.get().data)
    assert b"Subject: Sealbox: 4 protected messages for you" in (
        openssl_opens(queued, third, tmp_path) or b""
    )
    assert openssl_opens(queued, vault.escrow, tmp_path) is None

    verified = storage(storage_env(vault, SEALBOX_ENCRYPTION_CERTS=str(new_pem)), "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "4 message(s) checked, 0 do not open."


def test_verify_finds_every_message_opens(encryption: Vault, alice: User, bob: User) -> None:
    deliver_many(alice, 2)
    deliver_to(bob, make_message(to=bob.email))

    result = storage(storage_env(encryption), "verify")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 message(s) checked, 0 do not open."
    assert "verifying: 3/3 (100%)" in result.stderr


def test_verify_lists_each_message_that_does_not_open_with_its_owner(
    encryption: Vault, alice: User, bob: User
) -> None:
    [fine, *_] = deliver_many(alice, 1)
    cut_short = deliver_to(alice, make_message(subject="Cut short"))
    zeroed = deliver_to(alice, make_message(subject="Overwritten"))
    lost = deliver_to(bob, make_message(to=bob.email, subject="Gone"))
    data = Path(settings.DATA_DIR)
    (data / cut_short.blob).write_bytes((data / cut_short.blob).read_bytes()[:1000])
    (data / zeroed.blob).write_bytes(bytes((data / zeroed.blob).stat().st_size))
    (data / lost.blob).unlink()

    result = storage(storage_env(encryption), "verify")

    assert result.returncode == 1, result.stderr
    *failed, total = result.stdout.splitlines()
    assert total == "4 message(s) checked, 3 do not open."
    expected = [
        f"FAILED {cut_short.id} (alice@example.net) {cut_short.blob}: does not open: ",
        f"FAILED {zeroed.id} (alice@example.net) {zeroed.blob}: does not open: ",
        f"FAILED {lost.id} (bob@example.org) {lost.blob}: the file is missing",
    ]
    assert len(failed) == len(expected), result.stdout
    for start in expected:
        assert any(line.startswith(start) for line in failed), (start, result.stdout)
    assert str(fine) not in result.stdout


def test_verify_counts_messages_still_stored_unencrypted(
    request: pytest.FixtureRequest, alice: User
) -> None:
    deliver_many(alice, 2)
    vault: Vault = request.getfixturevalue("encryption")
    deliver_to(alice, make_message(subject="Sealed"))

    result = storage(storage_env(vault), "verify")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "3 message(s) checked, 0 do not open.",
        "2 message(s) are stored unencrypted: run `sealbox storage encrypt-existing`.",
    ]


def test_a_second_storage_command_waits_its_turn(
    encryption: Vault, alice: User, settings: Any
) -> None:
    settings.STORAGE_ENCRYPTION = False
    deliver_to(alice, make_message(subject="Plain for now"))
    settings.STORAGE_ENCRYPTION = True
    with reseal.exclusive():  # a first run, still going
        done = storage(storage_env(encryption), "encrypt-existing")
        assert done.returncode != 0
        assert "another storage command holds" in done.stderr
        assert "wait for it to finish" in done.stderr
        assert sealed_count() == 0
    assert storage(storage_env(encryption), "encrypt-existing").returncode == 0
    assert sealed_count() == 1


def test_a_message_that_cannot_be_read_is_skipped_and_counted_not_fatal(
    encryption: Vault, alice: User, settings: Any
) -> None:
    settings.STORAGE_ENCRYPTION = False
    messages = [deliver_to(alice, make_message(subject=f"Old {i}")) for i in range(3)]
    (Path(settings.DATA_DIR) / messages[1].blob).unlink()
    settings.STORAGE_ENCRYPTION = True
    done = storage(storage_env(encryption), "encrypt-existing")
    assert done.returncode == 1, done.stderr
    assert "2 message(s) encrypted" in done.stdout
    assert "1 message(s) could not be read and were left as they are" in done.stdout
    assert "Traceback" not in done.stderr
    assert sealed_count() == 2
    listed = storage(storage_env(encryption), "verify")
    assert f"FAILED {messages[1].id} (alice@example.net)" in listed.stdout
    assert "the file is missing" in listed.stdout


def test_encrypt_existing_also_clears_subjects_of_mail_already_sent(
    encryption: Vault, alice: User, settings: Any
) -> None:
    settings.STORAGE_ENCRYPTION = False
    deliver_to(alice, make_message(subject="Mentioned in a sent email"))
    item = OutgoingEmail.objects.create(
        kind="reply",
        mail_from="alice@example.net",
        recipients=["carol@corp.example"],
        subject="Re: Mentioned in a sent email",
        data=b"",
        status=OutgoingEmail.Status.SENT,
        give_up_at=timezone.now(),
    )
    settings.STORAGE_ENCRYPTION = True
    assert storage(storage_env(encryption), "encrypt-existing").returncode == 0
    item.refresh_from_db()
    assert item.subject == ""


def test_verify_counts_files_that_belong_to_no_message(encryption: Vault, alice: User) -> None:
    deliver_to(alice, make_message())
    stray = Path(settings.DATA_DIR) / blobs.relative_path(uuid.uuid4())
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(make_message(subject="Left by a crash"))
    done = storage(storage_env(encryption), "verify")
    assert done.returncode == 0, done.stdout
    assert "1 stored file(s) belong to no message" in done.stdout

"""Reading a sealed file in pieces: any byte range of its plaintext without opening all of it.

seal.open_sealed() decrypts a whole CMS file in memory. A stored message can be
tens of megabytes, and the portal needs only a part of it at a time (one
attachment, the .eml download in chunks). CMS EnvelopedData as seal.seal()
writes it is AES-256-CBC: once the content key is known, any ciphertext block
decrypts with the block before it as its IV, so a plaintext range costs reading
and decrypting that range only.

This module reads the few DER headers in front of the ciphertext (the
cryptography package parses CMS only whole), finds the recipient entry of the
certificate this process holds, unwraps the content key with RSA (PKCS #1
v1.5, as seal.seal() wraps it) and then decrypts ranges on demand. A file
of another shape (BER with indefinite lengths, another cipher or key transport),
or one whose key does not open, raises Unsupported, and the caller opens it
whole instead (seal.open_sealed() then says why it does not open).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sealbox.vault import seal

BLOCK = 16
CHUNK = 1024 * 1024
_HEAD_LIMIT = 64 * 1024  # recipient entries of a few certificates fit easily
_ENVELOPED_DATA = bytes.fromhex("2a864886f70d010703")
_AES256_CBC = bytes.fromhex("60864801650304012a")  # 2.16.840.1.101.3.4.1.42
_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")


class Unsupported(Exception):
    """Sealed data of a shape this reader does not take apart (open it whole)."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, length) of the DER element at pos."""
    if pos + 2 > len(data):
        raise Unsupported("cut short")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        return tag, pos, first
    count = first & 0x7F
    if count == 0 or count > 4 or pos + count > len(data):
        raise Unsupported("indefinite or oversized length")
    return tag, pos + count, int.from_bytes(data[pos : pos + count], "big")


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(tag, element start, value start, value end) of each element in [start, end)."""
    pos = start
    while pos < end:
        tag, value, length = _tlv(data, pos)
        yield tag, pos, value, value + length
        pos = value + length


@dataclass(frozen=True)
class _Layout:
    wrapped_key: bytes
    iv: bytes
    content_start: int  # offset of the first ciphertext byte in the file
    content_length: int


def _layout(head: bytes, issuer: bytes, serial: int) -> _Layout:
    _, outer, outer_len = _tlv(head, 0)
    items = list(_children(head, outer, min(len(head), outer + outer_len)))
    if len(items) < 2 or head[items[0][2] : items[0][3]] != _ENVELOPED_DATA:
        raise Unsupported("not EnvelopedData")
    _, _, body, _ = items[1]  # [0] EXPLICIT
    _, env_start, env_len = _tlv(head, body)
    wrapped = b""
    content: _Layout | None = None
    for tag, _, start, end in _children(head, env_start, env_start + env_len):
        if tag == 0x31:  # recipientInfos
            for rtag, _, rstart, rend in _children(head, start, end):
                if rtag != 0x30:
                    continue
                fields = list(_children(head, rstart, rend))
                if len(fields) != 4 or fields[1][0] != 0x30:  # issuerAndSerialNumber only
                    continue
                rid = list(_children(head, fields[1][2], fields[1][3]))
                algorithm = list(_children(head, fields[2][2], fields[2][3]))
                if len(rid) != 2 or not algorithm:
                    continue
                if head[algorithm[0][2] : algorithm[0][3]] != _RSA_ENCRYPTION:
                    continue  # another key transport (RSA-OAEP): opened whole instead
                name, number = rid
                found_serial = int.from_bytes(head[number[2] : number[3]], "big", signed=True)
                if head[name[1] : name[3]] == issuer and found_serial == serial:
                    wrapped = head[fields[3][2] : fields[3][3]]
        elif tag == 0x30:  # encryptedContentInfo
            parts = list(_children(head, start, min(end, len(head))))
            if len(parts) < 3:
                raise Unsupported("no encrypted content")
            algorithm = list(_children(head, parts[1][2], parts[1][3]))
            if head[algorithm[0][2] : algorithm[0][3]] != _AES256_CBC or len(algorithm) != 2:
                raise Unsupported("not AES-256-CBC")
            iv = head[algorithm[1][2] : algorithm[1][3]]
            ctag, _, cstart, cend = parts[2]
            if ctag != 0x80 or len(iv) != BLOCK:
                raise Unsupported("constructed or missing content")
            content = _Layout(b"", iv, cstart, cend - cstart)
    if content is None:
        raise Unsupported("no encrypted content")
    if not wrapped:  # opened whole, which says whether the key opens it at all
        raise Unsupported("no RSA recipient entry for the certificate of this process")
    if content.content_length % BLOCK or not content.content_length:
        raise seal.Unreadable("the encrypted content is cut short")
    return _Layout(wrapped, content.iv, content.content_start, content.content_length)


class SealedReader:
    """Random access to the plaintext of one sealed file (raises seal.Locked, Unreadable)."""

    def __init__(self, path: Path) -> None:
        held = seal._held()
        cert = held.certificate
        self.path = path
        with open(path, "rb") as f:
            head = f.read(_HEAD_LIMIT)
            layout = _layout(head, cert.issuer.public_bytes(), cert.serial_number)
            if os.fstat(f.fileno()).st_size < layout.content_start + layout.content_length:
                raise seal.Unreadable("the file is cut short")
            try:
                key = held.key.decrypt(layout.wrapped_key, padding.PKCS1v15())
            except ValueError as e:
                raise Unsupported(f"the content key does not open: {e}") from e
            if len(key) != 32:
                raise Unsupported("the content key does not open")
            self._key = key
            self._layout = layout
            # The padding of the last block says how long the plaintext is.
            if layout.content_length > BLOCK:
                f.seek(layout.content_start + layout.content_length - 2 * BLOCK)
                iv, last = f.read(BLOCK), f.read(BLOCK)
            else:
                f.seek(layout.content_start)
                iv, last = layout.iv, f.read(BLOCK)
        tail = self._decrypt(iv, last)
        unpadder = sym_padding.PKCS7(128).unpadder()
        try:
            kept = unpadder.update(tail) + unpadder.finalize()
        except ValueError as e:
            raise Unsupported("the content does not open with this key") from e
        self.size = layout.content_length - BLOCK + len(kept)

    def _decrypt(self, iv: bytes, data: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES256(self._key), modes.CBC(iv)).decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def chunks(self, start: int = 0, end: int | None = None, size: int = CHUNK) -> Iterator[bytes]:
        """The plaintext bytes [start, end), in pieces of about `size` bytes."""
        end = self.size if end is None else min(end, self.size)
        if start >= end:
            return
        layout = self._layout
        first = start // BLOCK
        last = (end - 1) // BLOCK + 1  # blocks [first, last)
        size = max(BLOCK, size - size % BLOCK)
        with open(self.path, "rb") as f:
            if first == 0:
                iv = layout.iv
                f.seek(layout.content_start)
            else:
                f.seek(layout.content_start + (first - 1) * BLOCK)
                iv = f.read(BLOCK)
            decryptor = Cipher(algorithms.AES256(self._key), modes.CBC(iv)).decryptor()
            skip = start - first * BLOCK
            left = end - start
            remaining = (last - first) * BLOCK
            while remaining > 0 and left > 0:
                data = f.read(min(size, remaining))
                if len(data) < min(size, remaining) or len(data) % BLOCK:
                    raise seal.Unreadable("the file is cut short")
                remaining -= len(data)
                plain = decryptor.update(data)
                if skip:
                    plain, skip = plain[skip:], 0
                if len(plain) > left:
                    plain = plain[:left]
                left -= len(plain)
                if plain:
                    yield plain

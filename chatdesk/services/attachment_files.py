"""Attached files on disk: each stored once by its SHA-256, private, whole or not at all.

A file lives at ``<attachments>/<sha[:2]>/<sha>`` (0600, folders 0700). It is read once
from where the person picked it, in one pass that hashes while copying into a
temporary file of the attachments folder (same filesystem, so the final rename is
atomic), then synced; nothing reads the original afterwards. What is read must be a
regular file opened without following a final symbolic link (a "photo.png" that links
to ``~/.ssh/id_ed25519`` is refused, not uploaded) and must not change while it is
read: a file that grows past the limit, changes size or time, or vanishes meanwhile is
refused and leaves no temporary file behind.

Placing a copy and deleting a file take ``PLACING``, and the callers commit or check the
attachment's row while holding it, so a file is never removed between the moment a new
row for the same content is committed and the moment its file is in place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chatdesk.config import PRIVATE_FILE_MODE, ensure_private_dir
from chatdesk.services.attachment_types import megabytes
from chatdesk.services.errors import StorageError, StorageFault, ValidationError

CHUNK_BYTES = 1 << 20
INCOMING_PREFIX = ".incoming-"
INCOMING_SUFFIX = ".part"
PLACING = threading.Lock()
"""Held while a copy is placed and its row committed, and while unused files go."""
_SHA256 = re.compile("[0-9a-f]{64}")


def read_chunk(fd: int, size: int) -> bytes:
    """One read of the original file (a seam: tests make a file vanish mid-copy)."""
    return os.read(fd, size)


@dataclass(frozen=True)
class Incoming:
    """A private, synced copy waiting in the attachments folder to be placed."""

    temp: Path
    sha256: str
    size: int


class AttachmentFiles:
    """The attachments folder: copy in, place, find and remove stored files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file of ``sha256`` is stored (a hex digest only: no path tricks)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str, size: int) -> bool:
        """Whether the file of ``sha256`` is stored, whole (of ``size`` bytes)."""
        final = self.path(sha256)
        return final.is_file() and final.stat().st_size == size

    def receive(self, source: Path, limit: int) -> Incoming:
        """Copy the regular file ``source`` (at most ``limit`` bytes) in; refuse it with
        a sentence for the person (``ValidationError``) when it cannot be taken."""
        name = f"“{source.name or source}”"
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            raise ValidationError(_open_refusal(name, error)) from None
        try:
            before = os.fstat(fd)
            if stat.S_ISDIR(before.st_mode):
                raise ValidationError(f"{name} is a folder; attach the files in it instead.")
            if not stat.S_ISREG(before.st_mode):
                raise ValidationError(f"{name} is not a regular file (a device, pipe or socket).")
            _check_size(name, before.st_size, limit)
            incoming = self._copy(fd, name, limit)
            try:
                _check_unchanged(name, source, before, os.fstat(fd), incoming.size)
            except BaseException:
                self.discard(incoming)
                raise
            return incoming
        finally:
            os.close(fd)

    def receive_bytes(self, data: bytes, name: str, limit: int) -> Incoming:
        """``data`` (a pasted image) as an incoming copy, under the same rules."""
        _check_size(f"“{name}”", len(data), limit)
        return self._copy_from(iter([data]), f"“{name}”", limit)

    def receive_stream(self, chunks: Iterator[bytes], name: str, limit: int) -> Incoming:
        """Bytes from elsewhere (an archive's member) as an incoming copy, hashed while
        copied, under the same rules; ``chunks`` may raise to stop the copy."""
        return self._copy_from(chunks, f"“{name}”", limit)

    def place(self, incoming: Incoming) -> bool:
        """Move ``incoming`` to its place (the caller holds ``PLACING``); False when an
        identical file was there already (the copy is dropped)."""
        final = self.path(incoming.sha256)
        try:
            if final.is_file() and final.stat().st_size == incoming.size:
                self.discard(incoming)
                return False
            ensure_private_dir(final.parent)
            os.replace(incoming.temp, final)
            _sync_dir(final.parent)
        except OSError as error:
            self.discard(incoming)
            raise _storage_error(error) from None
        return True

    def discard(self, incoming: Incoming) -> None:
        with contextlib.suppress(FileNotFoundError):
            incoming.temp.unlink()

    def remove(self, sha256: str) -> bool:
        """Delete a stored file (the caller holds ``PLACING`` and knows no row needs it);
        False if it was not there."""
        final = self.path(sha256)
        try:
            final.unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(OSError):  # an empty fan-out folder goes too
            final.parent.rmdir()
        return True

    def stored(self) -> Iterator[str]:
        """The digests of the files stored, as found on disk."""
        if not self.root.is_dir():
            return
        for fan in os.scandir(self.root):
            if len(fan.name) != 2 or not fan.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(fan.path):
                if _SHA256.fullmatch(entry.name) and entry.name.startswith(fan.name):
                    yield entry.name

    def remove_stale_copies(self, older_than_s: float) -> int:
        """Delete temporary copies left by a crash (a copy under way is newer)."""
        if not self.root.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than_s
        for entry in os.scandir(self.root):
            if not (
                entry.name.startswith(INCOMING_PREFIX) and entry.name.endswith(INCOMING_SUFFIX)
            ):
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def _copy(self, fd: int, name: str, limit: int) -> Incoming:
        def chunks() -> Iterator[bytes]:
            while True:
                try:
                    chunk = read_chunk(fd, CHUNK_BYTES)
                except OSError as error:
                    raise ValidationError(
                        f"{name} could not be read to the end ({error.strerror or error}); "
                        "nothing was attached."
                    ) from None
                if not chunk:
                    return
                yield chunk

        return self._copy_from(chunks(), name, limit)

    def _copy_from(self, chunks: Iterator[bytes], name: str, limit: int) -> Incoming:
        try:
            ensure_private_dir(self.root)
            out, temp = tempfile.mkstemp(
                prefix=INCOMING_PREFIX, suffix=INCOMING_SUFFIX, dir=self.root
            )
        except OSError as error:
            raise _storage_error(error) from None
        digest = hashlib.sha256()
        size = 0
        try:
            os.fchmod(out, PRIVATE_FILE_MODE)
            for chunk in chunks:
                size += len(chunk)
                if size > limit:  # grew while read
                    _check_size(name, size, limit)
                digest.update(chunk)
                _write_all(out, chunk)
            os.fsync(out)
        except BaseException as error:
            os.close(out)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            if isinstance(error, OSError):
                raise _storage_error(error) from None
            raise
        os.close(out)
        if size == 0:
            os.unlink(temp)
            raise ValidationError(f"{name} is empty (0 bytes); there is nothing to attach.")
        return Incoming(Path(temp), digest.hexdigest(), size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _check_size(name: str, size: int, limit: int) -> None:
    if size == 0:
        raise ValidationError(f"{name} is empty (0 bytes); there is nothing to attach.")
    if size > limit:
        raise ValidationError(
            f"{name} is larger than {megabytes(limit)}, the most a file attached can be."
        )


def _check_unchanged(
    name: str, source: Path, before: os.stat_result, after: os.stat_result, copied: int
) -> None:
    """Refuse a copy of a file that changed while it was read, or is no longer there."""
    changed = (
        after.st_size != before.st_size
        or after.st_mtime_ns != before.st_mtime_ns
        or copied != after.st_size
    )
    try:
        now = os.stat(source, follow_symlinks=False)
        moved = (now.st_ino, now.st_dev) != (before.st_ino, before.st_dev)
    except OSError:
        moved = True
    if moved:
        raise ValidationError(
            f"{name} was moved or deleted while it was being attached; nothing was attached."
        )
    if changed:
        raise ValidationError(
            f"{name} changed while it was being attached; try again once it is saved."
        )


def _open_refusal(name: str, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"{name} is a symbolic link; attach the file it points to instead."
    if isinstance(error, FileNotFoundError):
        return f"{name} no longer exists; nothing was attached."
    if isinstance(error, PermissionError):
        return f"{name} cannot be read: its permissions do not let you open it."
    return f"{name} cannot be opened ({error.strerror or error}); nothing was attached."


def _storage_error(error: OSError) -> StorageError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(
            StorageFault.DISK_FULL,
            "The disk is full: the file could not be copied into chatdesk's data folder. "
            "Free some space and attach it again.",
        )
    return StorageError(
        StorageFault.UNAVAILABLE,
        f"The file could not be copied into chatdesk's data folder "
        f"({error.strerror or error}); nothing was attached.",
    )


def _sync_dir(directory: Path) -> None:
    """The rename itself survives a power cut."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

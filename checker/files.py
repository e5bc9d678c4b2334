"""Reading input files and writing output files safely: the one place that touches the file system for them.

Reading: only regular files (a FIFO would block forever, ``/dev/zero`` never ends, a directory is no input), at
most ``max_bytes`` (stated in the error), decoded as UTF-8, or as UTF-16 when the file starts with a UTF-16 byte
order mark (as ``kubectl`` decodes files: cli-runtime's FileVisitor wraps them in ``unicode.BOMOverride``). Any other
bytes are one error line naming the file and the line of the first byte that is not UTF-8.

Writing: atomically, through a temporary file created exclusively (``O_CREAT|O_EXCL|O_NOFOLLOW``) in the target's
directory under an unpredictable name, then renamed over the target: a reader never sees half a file, and a symlink
planted at a predictable temporary name is never followed. A target that is itself a symlink is replaced, not
written through. Failures are one error line (:class:`checker.errors.InputError`) naming the path.

Omitted: standard input as ``-``, and encodings other than UTF-8/UTF-16 (kubectl reads no others either).
"""

from __future__ import annotations

import codecs
import os
import secrets
import stat
from pathlib import Path

from checker.errors import InputError

MAX_INPUT_BYTES = 64 * 2**20
"""The largest input file read (64 MiB): far above any scenario, manifest, dump or trace written by hand or tool."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _strerror(error: OSError) -> str:
    return error.strerror or str(error)


def read_bytes(path: str | os.PathLike[str], what: str = "file", max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else raises InputError naming ``path``."""
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)
    except OSError as error:
        raise InputError(f"{name}: cannot read the {what}: {_strerror(error)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name}: cannot read the {what}: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"{name}: the {what} has {info.st_size:,} bytes, more than the limit of {max_bytes:,}")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:  # it grew while we read it
                raise InputError(f"{name}: the {what} has more than the limit of {max_bytes:,} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise InputError(f"{name}: cannot read the {what}: {_strerror(error)}") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, source: str, what: str = "file") -> str:
    """``data`` as text: UTF-8 (a UTF-8 byte order mark dropped), or UTF-16 after a UTF-16 byte order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom) :], codec
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1 if encoding == "utf-8" else None
        where = f"{source}:{line}" if line is not None else source
        detail = f"byte 0x{data[error.start]:02x} at offset {error.start}" if encoding == "utf-8" else "odd bytes"
        raise InputError(f"{where}: the {what} is not {encoding.upper()} text ({detail})") from None


def read_text(path: str | os.PathLike[str], what: str = "file", max_bytes: int = MAX_INPUT_BYTES) -> str:
    """A regular file's text (see the module docstring); every problem is one InputError line naming ``path``."""
    return decode_text(read_bytes(path, what, max_bytes), os.fspath(path), what)


def atomic_write(path: str | os.PathLike[str], data: bytes, what: str = "output file", mode: int = 0o666) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); ``mode`` is filtered by the umask."""
    target = Path(path)
    name = os.fspath(path)
    if target.is_dir():
        raise InputError(f"{name}: cannot write the {what}: it is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{name}: cannot write the {what}: {target.parent} is not a directory") from None
    except OSError as error:
        raise InputError(f"{name}: cannot write the {what}: {_strerror(error)}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    temporary = None
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(candidate, flags, mode)
        except FileExistsError:
            continue
        except OSError as error:
            raise InputError(f"{name}: cannot write the {what}: {_strerror(error)}") from None
        temporary = candidate
        break
    if temporary is None:
        raise InputError(f"{name}: cannot write the {what}: no free temporary name in its directory")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{name}: cannot write the {what}: {_strerror(error)}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target

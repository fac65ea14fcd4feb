"""Bring a bundle from where an update command says into an empty folder, within limits.

Everything here treats its input as hostile, because an over-the-air command may come from
anyone who can publish on the bus: a local path must lie inside the bundles folder (never
`/`), a URL must be https (http only when the board's config allows it) and may not be
redirected to a weaker scheme, a download has a byte limit and a total deadline however slowly
the server sends, and an archive may hold only a bounded number of plain files of bounded
total size under the target folder: no links, devices or `..`. Archives are unpacked here
member by member, not with `tarfile.extractall`, so the same checks hold on every Python
(`filter="data"` exists only from 3.11.4 and 3.12).

What lands in the folder is still unverified: the caller checks sha256s and the signature.
"""

from __future__ import annotations

import bz2
import gzip
import http.client
import logging
import lzma
import os
import shutil
import socket
import ssl
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

from .errors import EdgeAppError

log = logging.getLogger(__name__)
MAX_MEMBERS = 64  # a bundle has a handful of files; thousands would only serve to exhaust inodes
HEADER_ALLOWANCE = 1 << 20  # tar headers and padding on top of the members' own bytes
FREE_SPACE_RESERVE = 64 << 20  # left free after the worst case, for the outbox and the logs
READ_TIMEOUT_S = 30.0  # longest wait for any one read; the whole download has its own deadline
CHUNK = 1 << 16
DOWNLOAD_NAME = "download"


class FetchRefused(EdgeAppError):
    """The location, the server or the archive broke one of the rules above; nothing was kept."""


@dataclass(frozen=True)
class FetchLimits:
    """The bounds of one fetch: bytes downloaded and unpacked, a deadline, and the schemes and CA it trusts."""

    max_bytes: int  # downloaded, and unpacked or copied
    deadline: float  # time.monotonic() by which a download must be complete
    allow_http: bool = False
    ca_file: str = ""


def fetch(location: str, dest: Path, root: Path, limits: FetchLimits) -> None:
    """Place the bundle named by `location` (URL, or a path inside `root`) into the empty folder `dest`.

    `dest` must lie inside `root`'s file system; a download is kept beside it (in dest's parent)
    while it is unpacked, and the caller removes that parent on any failure.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if "://" in location:
        archive = dest.parent / DOWNLOAD_NAME
        download(location, archive, root, limits)
        extract(archive, dest, root, limits)
        archive.unlink()
        return
    source = local_source(location, root)
    if source.is_dir():
        copy_folder(source, dest, root, limits)
    else:
        extract(source, dest, root, limits)


# ---- local paths ----------------------------------------------------------------------------
def local_source(location: str, root: Path) -> Path:
    """The existing file or folder `location` names, if it lies inside `root` (links resolved); else refuse."""
    base = root.resolve()
    path = Path(location)
    resolved = (path if path.is_absolute() else base / path).resolve()
    if resolved == base or base not in resolved.parents:
        raise FetchRefused(
            f"location {location} is outside the bundles folder {base}; put the bundle there first "
            "(deploy/push.sh, scp) or give an https URL"
        )
    if not resolved.exists():
        raise FetchRefused(f"location {location} does not exist on this board")
    return resolved


def copy_folder(source: Path, dest: Path, root: Path, limits: FetchLimits) -> None:
    """Copy a bundle folder: plain files and folders only, at most MAX_MEMBERS of them and max_bytes in all."""
    entries: list[tuple[Path, PurePosixPath]] = []
    total = 0
    for folder, dirs, files in os.walk(source):  # does not follow links; links are refused below
        for name in dirs + files:
            path = Path(folder, name)
            rel = PurePosixPath(path.relative_to(source).as_posix())
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise FetchRefused(f"{rel} in {source} is a link or a special file; a bundle holds plain files only")
            entries.append((path, rel))
            if len(entries) > MAX_MEMBERS:
                raise FetchRefused(f"{source} holds more than {MAX_MEMBERS} files; that is not a bundle")
            if path.is_file():
                total += path.stat().st_size
                _within(total, limits, str(source))
    check_free_space(root, total)
    for path, rel in entries:
        target = dest.joinpath(*rel.parts)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target, follow_symlinks=False)


# ---- downloads --------------------------------------------------------------------------------
class _RedirectGuard(urllib.request.HTTPRedirectHandler):
    """Follow a few redirects, never to a weaker scheme (https -> http) or to anything but http(s)."""

    max_redirections = 5

    def __init__(self, allow_http: bool):
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (urllib's signature)
        old, new = urlsplit(req.full_url).scheme.lower(), urlsplit(newurl).scheme.lower()
        if (
            new not in ("http", "https")
            or (old == "https" and new != "https")
            or (new == "http" and not self.allow_http)
        ):
            fp.close()
            raise FetchRefused(
                f"{req.full_url} redirects to {newurl}, a weaker scheme; the update needs https all the way"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_url(url: str, allow_http: bool) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    if scheme == "http":
        raise FetchRefused(f"{url} is plain http; updates come over https (set ota.allow_http to accept http)")
    raise FetchRefused(f"{url}: scheme {scheme!r} is not supported; give an https URL or a path in the bundles folder")


def _deadline_opener(limits: FetchLimits) -> urllib.request.OpenerDirector:
    """An opener whose every socket read (TLS handshake, status line, headers, body) ends by the deadline.

    A per-read timeout alone lets a server that sends a byte now and then hold the download
    forever; here each read's timeout is what is left of the whole download's time.
    """

    def arm(sock: socket.socket) -> None:
        left = limits.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the download's deadline has passed")
        sock.settimeout(min(left, READ_TIMEOUT_S))

    class DeadlineSocket(socket.socket):
        def recv_into(self, *args, **kwargs):  # what http.client's buffered reader calls
            arm(self)
            return super().recv_into(*args, **kwargs)

    class DeadlineSSLSocket(ssl.SSLSocket):
        def recv_into(self, *args, **kwargs):
            arm(self)
            return super().recv_into(*args, **kwargs)

        def do_handshake(self, *args, **kwargs):
            arm(self)
            return super().do_handshake(*args, **kwargs)

    def create_connection(address, timeout=None, source_address=None, *args, **kwargs):
        plain = socket.create_connection(address, timeout, source_address, *args, **kwargs)
        sock = DeadlineSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        sock.settimeout(timeout)
        return sock

    class HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    class HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    context = ssl.create_default_context(cafile=limits.ca_file or None)
    context.sslsocket_class = DeadlineSSLSocket

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):  # noqa: ANN001 (urllib's signature)
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):  # noqa: ANN001
            return self.do_open(HTTPSConnection, req, context=context)

    return urllib.request.build_opener(HTTPHandler(), HTTPSHandler(context=context), _RedirectGuard(limits.allow_http))


def download(url: str, target: Path, root: Path, limits: FetchLimits) -> None:
    """Download `url` to `target`: at most max_bytes, finished by the deadline, else refuse (the caller removes target)."""
    check_url(url, limits.allow_http)
    opener = _deadline_opener(limits)
    request = urllib.request.Request(url, headers={"User-Agent": "edge-app-ota"})
    try:
        with opener.open(request, timeout=max(0.1, min(READ_TIMEOUT_S, _left(limits)))) as response:
            announced = response.headers.get("Content-Length")
            if announced and announced.isdigit() and int(announced) > limits.max_bytes:
                raise FetchRefused(
                    f"{url} announces {announced} bytes, more than the limit of {limits.max_bytes} (ota.max_bytes)"
                )
            check_free_space(root, int(announced) if announced and announced.isdigit() else limits.max_bytes)
            _copy_response(response, target, url, limits)
    except urllib.error.HTTPError as exc:
        raise FetchRefused(f"cannot download {url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        if _left(limits) <= 0:
            raise FetchRefused(f"download of {url} did not finish within the deadline (ota.fetch_timeout)") from None
        raise FetchRefused(f"cannot download {url} ({getattr(exc, 'reason', None) or exc})") from None


def _copy_response(response, target: Path, url: str, limits: FetchLimits) -> None:
    total = 0
    with open(target, "xb") as out:
        while True:
            if _left(limits) <= 0:
                raise FetchRefused(
                    f"download of {url} did not finish within the deadline (ota.fetch_timeout); {total} bytes arrived"
                )
            chunk = response.read1(CHUNK)  # returns what has arrived: a trickle cannot hold a read past the deadline
            if not chunk:
                return
            total += len(chunk)
            if total > limits.max_bytes:
                raise FetchRefused(
                    f"{url} sends more than the limit of {limits.max_bytes} bytes (ota.max_bytes); aborted"
                )
            out.write(chunk)


def _left(limits: FetchLimits) -> float:
    return limits.deadline - time.monotonic()


def _within(total: int, limits: FetchLimits, what: str) -> None:
    if total > limits.max_bytes:
        raise FetchRefused(f"{what} holds more than the limit of {limits.max_bytes} bytes (ota.max_bytes)")


def check_free_space(root: Path, needed: int) -> None:
    free = shutil.disk_usage(root).free
    if free < needed + FREE_SPACE_RESERVE:
        raise FetchRefused(
            f"not enough free space in {root}: {free >> 20} MiB free, the update may need {needed >> 20} MiB "
            f"plus {FREE_SPACE_RESERVE >> 20} MiB to spare; remove old bundles or lower ota.max_bytes"
        )


# ---- archives ---------------------------------------------------------------------------------
class _CappedReader:
    """A file object that refuses to yield more than `cap` bytes: bounds what decompression can produce."""

    def __init__(self, inner: BinaryIO, cap: int, what: str):
        self.inner, self.cap, self.what, self.total = inner, cap, what, 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size if size is not None and size >= 0 else self.cap + 1 - self.total)
        self.total += len(data)
        if self.total > self.cap:
            raise FetchRefused(f"{self.what} unpacks to more than the limit of {self.cap} bytes (ota.max_bytes)")
        return data


def _decompressed(raw: BinaryIO) -> BinaryIO:
    """The archive's tar stream: gzip, xz, bzip2 or plain tar, told apart by their first bytes."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    return raw


def member_path(name: str) -> PurePosixPath:
    """The relative path an archive member may be written to; refuse absolute paths, `..` and oddities."""
    if not name or "\x00" in name or "\\" in name:
        raise FetchRefused(f"archive member {name!r} has an unusable name")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise FetchRefused(f"archive member {name!r} points outside the bundle folder; refused")
    return PurePosixPath(*[part for part in path.parts if part != "."])


def check_member(member: tarfile.TarInfo) -> PurePosixPath:
    """Refuse links, devices, fifos and sparse files; return where a plain file or folder may go."""
    if member.issym() or member.islnk():
        raise FetchRefused(f"archive member {member.name!r} is a link; a bundle holds plain files only")
    if member.issparse() or not (member.isfile() or member.isdir()):
        raise FetchRefused(f"archive member {member.name!r} is not a plain file or folder; refused")
    return member_path(member.name)


def extract(archive: Path, dest: Path, root: Path, limits: FetchLimits) -> None:
    """Unpack a tar archive (optionally compressed) into `dest`, member by member, within the limits."""
    check_free_space(root, limits.max_bytes)
    cap = limits.max_bytes + HEADER_ALLOWANCE
    try:
        with open(archive, "rb") as raw, _decompressed(raw) as stream:
            capped = _CappedReader(stream, cap, archive.name)
            with tarfile.open(fileobj=capped, mode="r|") as tar:  # a stream: headers are checked as they come
                _unpack(tar, dest, limits, archive.name)
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError) as exc:
        raise FetchRefused(f"cannot unpack {archive.name} as a tar archive ({exc})") from None
    _unwrap(dest)


def _unpack(tar: tarfile.TarFile, dest: Path, limits: FetchLimits, what: str) -> None:
    count = total = 0
    for member in tar:
        count += 1
        if count > MAX_MEMBERS:
            raise FetchRefused(f"{what} holds more than {MAX_MEMBERS} members; that is not a bundle")
        rel = check_member(member)
        if not rel.parts:
            continue  # "." itself
        target = dest.joinpath(*rel.parts)
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        total += member.size
        _within(total, limits, what)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        try:
            # O_EXCL: a name that comes twice would overwrite what was checked; O_NOFOLLOW: never write through a link.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            raise FetchRefused(f"archive member {member.name!r} appears twice in {what}; refused") from None
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)


def _unwrap(dest: Path) -> None:
    """An archive of the bundle folder itself (bundle/manifest.json...): move its contents up one level."""
    inner = list(dest.iterdir())
    if len(inner) == 1 and inner[0].is_dir() and not (dest / "manifest.json").exists():
        for child in inner[0].iterdir():
            child.rename(dest / child.name)
        inner[0].rmdir()

"""edge_app.fetch: archive members, local paths, download limits, one rule at a time (fast, no model)."""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_app.fetch import MAX_MEMBERS, FetchLimits, FetchRefused, check_url, extract, fetch, local_source, member_path


def limits(max_bytes: int = 1 << 20, seconds: float = 10, allow_http: bool = False) -> FetchLimits:
    return FetchLimits(max_bytes=max_bytes, deadline=time.monotonic() + seconds, allow_http=allow_http)


def tar_with(path: Path, *members: tuple[tarfile.TarInfo, bytes | None], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "bundles").mkdir()
    return tmp_path / "bundles"


def test_a_plain_bundle_archive_unpacks(root, tmp_path):
    archive = tar_with(
        tmp_path / "b.tar.gz",
        file_member("bundle/manifest.json", b"{}"),
        file_member("bundle/model.onnx", b"m" * 1000),
        file_member("./bundle/tokenizer.json", b"{}"),
    )
    extract(archive, root / "out", root, limits())
    assert sorted(p.name for p in (root / "out").iterdir()) == ["manifest.json", "model.onnx", "tokenizer.json"]
    assert (root / "out/model.onnx").read_bytes() == b"m" * 1000


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_every_compression_is_bounded_the_same(root, tmp_path, mode):
    archive = tar_with(tmp_path / "b.tar", file_member("model.onnx", b"\0" * 200_000), mode=mode)
    with pytest.raises(FetchRefused, match="limit"):
        extract(archive, root / "out", root, limits(max_bytes=100_000))
    extract(archive, root / "ok", root, limits(max_bytes=300_000))


@pytest.mark.parametrize(
    "member, reason",
    [
        (file_member("../evil", b"pwn"), "outside"),
        (file_member("bundle/../../evil", b"pwn"), "outside"),
        (file_member("/etc/evil", b"pwn"), "outside"),
        (link_member("model.onnx", "/etc/shadow"), "link"),
        (link_member("model.onnx", "../../etc/passwd", tarfile.LNKTYPE), "link"),
        (link_member("dev", "", tarfile.CHRTYPE), "not a plain file"),
        (link_member("fifo", "", tarfile.FIFOTYPE), "not a plain file"),
    ],
)
def test_dangerous_members_are_refused(root, tmp_path, member, reason):
    archive = tar_with(tmp_path / "evil.tar.gz", file_member("manifest.json", b"{}"), member)
    with pytest.raises(FetchRefused, match=reason):
        extract(archive, root / "out", root, limits())
    assert not (tmp_path / "evil").exists() and not (root / "evil").exists()


def test_a_link_then_a_file_through_it_is_refused_at_the_link(root, tmp_path):
    """The classic: `dir -> /somewhere`, then `dir/file`; refused before anything is written through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tar_with(tmp_path / "evil.tar", link_member("d", str(outside)), file_member("d/x", b"pwn"), mode="w")
    with pytest.raises(FetchRefused, match="link"):
        extract(archive, root / "out", root, limits())
    assert not any(outside.iterdir())


def test_member_count_and_duplicates_are_bounded(root, tmp_path):
    many = tar_with(tmp_path / "many.tar.gz", *[file_member(f"f{i}") for i in range(MAX_MEMBERS + 1)])
    with pytest.raises(FetchRefused, match="members"):
        extract(many, root / "a", root, limits())
    twice = tar_with(tmp_path / "twice.tar.gz", file_member("model.onnx", b"good"), file_member("model.onnx", b"bad"))
    with pytest.raises(FetchRefused, match="twice"):
        extract(twice, root / "b", root, limits())


def test_not_an_archive_is_refused(root, tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(FetchRefused, match="cannot unpack"):
        extract(tmp_path / "x.tar.gz", root / "out", root, limits())


@given(st.lists(st.sampled_from(["a", "b", ".", "/", "..", "\\", "\0", " ", "~"]), max_size=20).map("".join))
def test_member_paths_never_leave_the_target(name):
    base = "/srv/target"
    try:
        rel = member_path(name)
    except FetchRefused:
        return
    joined = posixpath.normpath(posixpath.join(base, str(rel)))
    assert joined == base or joined.startswith(base + "/"), (name, rel)
    assert ".." not in rel.parts and not rel.is_absolute()


def test_local_locations_must_lie_inside_the_bundles_folder(root, tmp_path):
    (root / "b").mkdir()
    assert local_source("b", root) == (root / "b").resolve()
    assert local_source(str(root / "b"), root) == (root / "b").resolve()
    for location in ("/", str(tmp_path), str(root), "../", str(root / ".." / "bundles" / ".." / "x")):
        with pytest.raises(FetchRefused, match="outside the bundles folder"):
            local_source(location, root)
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(FetchRefused, match="outside"):
        local_source("escape", root)
    with pytest.raises(FetchRefused, match="does not exist"):
        local_source("missing", root)


def test_local_folder_with_a_link_is_refused(root, tmp_path):
    folder = root / "b"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    (folder / "model.onnx").symlink_to("/etc/passwd")
    with pytest.raises(FetchRefused, match="link"):
        fetch("b", tmp_path / "out", root, limits())


def test_urls_are_https_unless_http_is_allowed():
    check_url("https://example.org/b.tar.gz", allow_http=False)
    check_url("http://example.org/b.tar.gz", allow_http=True)
    with pytest.raises(FetchRefused, match="ota.allow_http"):
        check_url("http://example.org/b.tar.gz", allow_http=False)
    for url in ("file:///etc/passwd", "ftp://example.org/b.tar.gz"):
        with pytest.raises(FetchRefused, match="not supported"):
            check_url(url, allow_http=True)


def test_free_space_is_checked_before_writing(root, tmp_path):
    archive = tar_with(tmp_path / "b.tar.gz", file_member("model.onnx"))
    huge = FetchLimits(max_bytes=1 << 62, deadline=time.monotonic() + 10)
    with pytest.raises(FetchRefused, match="not enough free space"):
        extract(archive, root / "out", root, huge)
    assert not (root / "out").exists()
    assert os.listdir(root) == []


# ---- downloads from a real local server -------------------------------------------------------
@pytest.fixture
def tls(tmp_path: Path):
    from helpers.bundle_server import make_tls

    return make_tls(tmp_path / "tls")


@pytest.fixture
def servers(tmp_path: Path, tls):
    from helpers.bundle_server import BundleServer

    files = tmp_path / "served"
    files.mkdir()
    tar_with(files / "b.tar.gz", file_member("bundle/manifest.json", b"{}"), file_member("bundle/model.onnx", b"m"))
    plain, secure = BundleServer(files), BundleServer(files, tls=(tls[1], tls[2]))
    yield plain, secure
    plain.close()
    secure.close()


def https_limits(tls, max_bytes: int = 1 << 20, seconds: float = 10) -> FetchLimits:
    return FetchLimits(max_bytes=max_bytes, deadline=time.monotonic() + seconds, ca_file=str(tls[0]))


def test_https_download_with_the_configured_ca(root, servers, tls):
    _, secure = servers
    fetch(f"{secure.url}/files/b.tar.gz", root / "in" / "bundle", root, https_limits(tls))
    assert sorted(p.name for p in (root / "in/bundle").iterdir()) == ["manifest.json", "model.onnx"]
    assert not (root / "in/download").exists()
    with pytest.raises(FetchRefused, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        fetch(f"{secure.url}/files/b.tar.gz", root / "other" / "bundle", root, limits())  # system CAs only


def test_redirect_to_a_weaker_scheme_is_refused(root, servers, tls):
    plain, secure = servers
    for allow_http in (False, True):
        lim = FetchLimits(max_bytes=1 << 20, deadline=time.monotonic() + 10, allow_http=allow_http, ca_file=str(tls[0]))
        with pytest.raises(FetchRefused, match="weaker scheme"):
            fetch(f"{secure.url}/redirect?to={plain.url}/files/b.tar.gz", root / "x" / "bundle", root, lim)


def test_a_flood_is_cut_at_the_byte_limit(root, servers, tmp_path):
    plain, _ = servers
    with pytest.raises(FetchRefused, match="more than the limit of 300000 bytes"):
        fetch(f"{plain.url}/flood", tmp_path / "stage" / "bundle", root, limits(max_bytes=300_000, allow_http=True))
    time.sleep(0.5)
    sent = plain.flood_sent
    time.sleep(0.5)
    assert plain.flood_sent == sent, "the client kept reading after the limit"


@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers"])
@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_a_trickle_is_cut_at_the_deadline(root, servers, tls, tmp_path, path, secure):
    """Body or headers, a byte every 0.1 s: each read is quick, the whole download still ends at the deadline."""
    server = servers[1] if secure else servers[0]
    lim = FetchLimits(max_bytes=1 << 20, deadline=time.monotonic() + 1.5, allow_http=True, ca_file=str(tls[0]))
    start = time.monotonic()
    with pytest.raises(FetchRefused, match="deadline"):
        fetch(f"{server.url}{path}", tmp_path / "stage" / "bundle", root, lim)
    assert 1.4 < time.monotonic() - start < 3


def test_unpacking_needs_no_extraction_filter(root, tmp_path, monkeypatch):
    """Python < 3.11.4 (and 3.10) has no `filter="data"`: unpacking must not lean on it or on extractall."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *a, **k: pytest.fail("extractall was used"))
    monkeypatch.setattr(tarfile.TarFile, "extract", lambda *a, **k: pytest.fail("extract was used"))
    archive = tar_with(
        tmp_path / "b.tar.gz", file_member("bundle/manifest.json", b"{}"), file_member("bundle/model.onnx")
    )
    extract(archive, root / "out", root, limits())
    assert sorted(p.name for p in (root / "out").iterdir()) == ["manifest.json", "model.onnx"]
    evil = tar_with(tmp_path / "evil.tar.gz", link_member("model.onnx", "/etc/passwd"))
    with pytest.raises(FetchRefused, match="link"):
        extract(evil, root / "evil", root, limits())

"""The downloader against the fake hub over real HTTP: resume with Range, checksums, full disks, dropped
connections, redirects that must not carry the token to another origin."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from edgeroute.hub.download import DownloadTarget, check_disk, download, resumable_bytes
from edgeroute.hub.errors import ChecksumMismatch, GatedRepo, NotEnoughDisk
from tests.hub.fakehub import FakeHub

REPO = "acme/Tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"


@pytest.fixture
def data() -> bytes:
    return os.urandom(3_000_000)


@pytest.fixture
def target(hub: FakeHub, data: bytes, tmp_path: Path) -> DownloadTarget:
    hub.add_repo(REPO, {FILE: data})
    return DownloadTarget(
        url=f"{hub.url}/{REPO}/resolve/main/{FILE}",
        dest=tmp_path / "models" / "tiny" / FILE,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        label=FILE,
    )


@pytest.fixture
def http() -> httpx.Client:
    with httpx.Client(follow_redirects=True, timeout=10) as c:
        yield c


def no_sleep(_: float) -> None:
    pass


def test_download_verifies_and_publishes(
    target: DownloadTarget, hub: FakeHub, http: httpx.Client, data: bytes
) -> None:
    digest = download(target, http, {})
    assert digest == hashlib.sha256(data).hexdigest()
    assert target.dest.read_bytes() == data
    assert not target.partial.exists() and not target.sidecar.exists()
    assert hub.served.total(FILE) == len(data)


def test_resume_fetches_only_the_missing_bytes(
    target: DownloadTarget, hub: FakeHub, http: httpx.Client, data: bytes
) -> None:
    target.dest.parent.mkdir(parents=True)
    target.partial.write_bytes(data[:1_200_000])
    target.sidecar.write_text(json.dumps(target.key))
    assert resumable_bytes(target) == 1_200_000
    download(target, http, {})
    assert target.dest.read_bytes() == data
    assert hub.served.total(FILE) == len(data) - 1_200_000
    ranges = [r["headers"].get("Range") for r in hub.served.requests if r["path"].startswith("/cdn/")]
    assert ranges == ["bytes=1200000-"]


def test_a_partial_of_another_file_is_discarded(
    target: DownloadTarget, hub: FakeHub, http: httpx.Client
) -> None:
    target.dest.parent.mkdir(parents=True)
    target.partial.write_bytes(b"x" * 1000)
    target.sidecar.write_text(json.dumps({**target.key, "sha256": "0" * 64}))
    assert resumable_bytes(target) == 0
    download(target, http, {})
    assert hub.served.total(FILE) == target.size


def test_server_ignoring_range_restarts_cleanly(
    target: DownloadTarget, hub: FakeHub, http: httpx.Client, data: bytes
) -> None:
    target.dest.parent.mkdir(parents=True)
    target.partial.write_bytes(data[:500_000])
    target.sidecar.write_text(json.dumps(target.key))
    hub.ignore_range = True
    download(target, http, {})
    assert target.dest.read_bytes() == data


def test_dropped_connection_is_resumed_within_the_run(
    target: DownloadTarget, hub: FakeHub, http: httpx.Client, data: bytes
) -> None:
    hub.drop_after = 1_000_000
    download(target, http, {}, sleep=no_sleep)
    assert target.dest.read_bytes() == data
    assert hub.served.total(FILE) < 1.3 * len(data)
    assert len([r for r in hub.served.requests if r["path"].startswith("/cdn/")]) == 2


def test_checksum_mismatch_deletes_the_file(target: DownloadTarget, http: httpx.Client) -> None:
    wrong = DownloadTarget(target.url, target.dest, target.size, "ab" * 32, target.label)
    with pytest.raises(ChecksumMismatch, match=r"checksum mismatch.*deleted") as err:
        download(wrong, http, {})
    assert "ab" * 32 in err.value.message
    assert not wrong.dest.exists() and not wrong.partial.exists() and not wrong.sidecar.exists()


def test_disk_filling_up_keeps_the_partial(target: DownloadTarget, http: httpx.Client) -> None:
    """A real ENOSPC from the kernel: the partial file is /dev/full."""
    target.dest.parent.mkdir(parents=True)
    target.partial.symlink_to("/dev/full")
    with pytest.raises(NotEnoughDisk, match=r"disk filled up.*kept.*resume"):
        download(target, http, {})
    assert target.partial.is_symlink() and target.sidecar.exists()
    assert not target.dest.exists()


def test_free_space_is_checked_before_downloading(tmp_path: Path) -> None:
    check_disk(tmp_path, 10, disk_free=lambda _: 11)
    with pytest.raises(NotEnoughDisk, match=r"needs 2\.0 GB more, 1\.0 GB is free"):
        check_disk(tmp_path, 2_000_000_000, disk_free=lambda _: 1_000_000_000)


def test_gated_file_needs_the_token_and_the_cdn_never_sees_it(
    hub: FakeHub, http: httpx.Client, tmp_path: Path, data: bytes
) -> None:
    hub.add_repo("meta/Gated-GGUF", {FILE: data}, gated=True)
    gated = DownloadTarget(
        f"{hub.url}/meta/Gated-GGUF/resolve/main/{FILE}", tmp_path / FILE, len(data), None, FILE
    )
    with pytest.raises(GatedRepo):
        download(gated, http, {})
    download(gated, http, {"Authorization": f"Bearer {hub.token}"})
    assert gated.dest.read_bytes() == data
    cdn = [r for r in hub.served.requests if r["path"].startswith("/cdn/")]
    assert cdn and all("Authorization" not in r["headers"] for r in cdn)
    resolve = [r for r in hub.served.requests if "/resolve/" in r["path"]]
    assert resolve[-1]["headers"].get("Authorization") == f"Bearer {hub.token}"

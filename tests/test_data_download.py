"""The downloader against a local HTTP server on 127.0.0.1 (Range support, transfers cut short
on demand), safe tar extraction, and the datasets' download=True route. No other traffic."""
import gzip
import hashlib
import io
import os
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tinygrad_cnn.data import CIFAR10, MNIST, DownloadError, download_url, extract_tar
from test_data_datasets import build_cifar_archive


class _State:
    def __init__(self):
        self.files = {}          # name -> bytes
        self.cuts = []           # byte counts: the next responses stop after that many body bytes
        self.ranges = True       # honour Range requests
        self.requests = []       # (path, Range header or None)
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    timeout = 5  # a stuck client cannot hold a handler thread longer than this

    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        header = self.headers.get("Range")
        with state.lock:
            state.requests.append((self.path, header))
            cut = state.cuts.pop(0) if state.cuts else None
        data = state.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404, "no such file")
            return
        start = 0
        if header and state.ranges:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True


@pytest.fixture
def server(monkeypatch):
    """A ThreadingHTTPServer on 127.0.0.1 (port chosen by the OS), stopped at the end of the test."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def payload(n=300_000, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_download_success_with_progress(server, tmp_path, capsys):
    data = payload()
    server.state.files["file.bin"] = data
    target = tmp_path / "sub" / "file.bin"
    assert download_url(server.url + "file.bin", str(target), md5=md5(data)) == str(target)
    assert target.read_bytes() == data
    assert os.listdir(target.parent) == ["file.bin"]  # no .part left
    err = capsys.readouterr().err
    assert "file.bin" in err and "100%" in err
    # an existing file with the right checksum is not fetched again
    download_url(server.url + "file.bin", str(target), md5=md5(data))
    assert len(server.state.requests) == 1


def test_download_resumes_after_interrupted_transfer(server, tmp_path):
    data = payload()
    server.state.files["file.bin"] = data
    server.state.cuts = [100_000]
    target = tmp_path / "file.bin"
    download_url(server.url + "file.bin", str(target), md5=md5(data), progress=False, retry_wait=0)
    assert target.read_bytes() == data
    assert server.state.requests == [("/file.bin", None), ("/file.bin", "bytes=100000-")]
    assert not (tmp_path / "file.bin.part").exists()


def test_download_resumes_a_part_file_from_an_earlier_run(server, tmp_path):
    data = payload()
    server.state.files["file.bin"] = data
    server.state.cuts = [5_000, 5_000]
    target = tmp_path / "file.bin"
    with pytest.raises(DownloadError) as info:
        download_url(server.url + "file.bin", str(target), md5=md5(data), progress=False, retries=1, retry_wait=0)
    assert "file.bin.part" in str(info.value) and "resume" in str(info.value)
    assert not target.exists()
    assert (tmp_path / "file.bin.part").read_bytes() == data[:10_000]
    download_url(server.url + "file.bin", str(target), md5=md5(data), progress=False)  # a later run
    assert target.read_bytes() == data
    assert server.state.requests[-1] == ("/file.bin", "bytes=10000-")
    assert os.listdir(tmp_path) == ["file.bin"]


def test_download_restarts_when_server_ignores_range(server, tmp_path):
    data = payload()
    server.state.files["file.bin"] = data
    server.state.ranges = False
    (tmp_path / "file.bin.part").write_bytes(b"stale bytes from another file")
    download_url(server.url + "file.bin", str(tmp_path / "file.bin"), md5=md5(data), progress=False)
    assert (tmp_path / "file.bin").read_bytes() == data


def test_complete_part_file_is_verified_and_renamed(server, tmp_path):
    data = payload(1000)
    server.state.files["file.bin"] = data
    (tmp_path / "file.bin.part").write_bytes(data)  # the whole file arrived, the rename did not happen
    download_url(server.url + "file.bin", str(tmp_path / "file.bin"), md5=md5(data), progress=False)
    assert (tmp_path / "file.bin").read_bytes() == data
    assert server.state.requests == [("/file.bin", "bytes=1000-")]  # answered 416: nothing more to send


def test_wrong_md5_is_rejected_and_nothing_left(server, tmp_path):
    server.state.files["file.bin"] = payload()
    with pytest.raises(DownloadError) as info:
        download_url(server.url + "file.bin", str(tmp_path / "file.bin"), md5="0" * 32, progress=False)
    message = str(info.value)
    assert "file.bin" in message and "checksum mismatch" in message and "0" * 32 in message
    assert os.listdir(tmp_path) == []


def test_mirrors_are_tried_in_order(server, tmp_path):
    data = payload(5000)
    server.state.files["good/file.bin"] = data
    urls = [server.url + "missing/file.bin", server.url + "good/file.bin"]
    download_url(urls, str(tmp_path / "file.bin"), md5=md5(data), progress=False)
    assert (tmp_path / "file.bin").read_bytes() == data
    assert [r[0] for r in server.state.requests] == ["/missing/file.bin", "/good/file.bin"]


def test_server_down_gives_a_clear_error(server, tmp_path):
    url = server.url + "file.bin"
    server.shutdown()
    server.server_close()  # nothing listens on the port now
    target = tmp_path / "file.bin"
    with pytest.raises(DownloadError) as info:
        download_url(url, str(target), md5="0" * 32, progress=False, timeout=5)
    message = str(info.value)
    assert url in message                                  # the URL
    assert "refused" in message.lower()                    # the reason
    assert str(target) in message and "by hand" in message  # where to put the file
    assert os.listdir(tmp_path) == []


def test_only_http_urls(tmp_path):
    with pytest.raises(DownloadError, match="not an http"):
        download_url("file:///etc/passwd", str(tmp_path / "x"), progress=False)


# ------------------------------------------------------------------ tar extraction
def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, blob in members:
            tar.addfile(info, io.BytesIO(blob) if blob is not None else None)


def file_member(name, blob=b"data"):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    return info, blob


def link_member(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_extract_tar_extracts_good_archive(tmp_path):
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [file_member("top/x.txt", b"x"), file_member("top/sub/y.txt", b"yy")])
    out = tmp_path / "out"
    assert extract_tar(str(archive), str(out)) == ["top"]
    assert (out / "top" / "x.txt").read_bytes() == b"x" and (out / "top" / "sub" / "y.txt").read_bytes() == b"yy"
    assert sorted(os.listdir(out)) == ["top"]  # no staging folder left


@pytest.mark.parametrize("bad", [
    file_member("../escaped.txt"),
    file_member("top/../../escaped.txt"),
    file_member("/tmp/absolute-escaped.txt"),
    link_member("top/link", "/etc/passwd", tarfile.SYMTYPE),
    link_member("top/hard", "/etc/passwd", tarfile.LNKTYPE),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink"])
def test_extract_tar_refuses_escaping_members(tmp_path, bad):
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [file_member("top/ok.txt"), bad])
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="a.tar.gz") as info:
        extract_tar(str(archive), str(out))
    assert "refusing" in str(info.value)
    assert os.listdir(out) == []  # nothing at all was extracted
    assert not (tmp_path / "escaped.txt").exists() and not os.path.exists("/tmp/absolute-escaped.txt")


def test_extract_tar_truncated_archive(tmp_path):
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [file_member("top/big.bin", payload(200_000))])
    archive.write_bytes(archive.read_bytes()[:50_000])
    with pytest.raises(ValueError, match="a.tar.gz"):
        extract_tar(str(archive), str(tmp_path / "out"))
    assert os.listdir(tmp_path / "out") == []


# ------------------------------------------------------------------ datasets with download=True
def idx_gz(array):
    code = {1: 0x0801, 3: 0x0803}[array.ndim]
    header = struct.pack(">I", code) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_mnist_download(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5)}
    blobs = {name: idx_gz(a) for name, a in arrays.items()}
    server.state.files.update({"mnist/" + k: v for k, v in blobs.items()})
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "broken/", server.url + "mnist/"])
    monkeypatch.setattr(MNIST, "resources", {k: md5(v) for k, v in blobs.items()})
    ds = MNIST(str(tmp_path), train=True, download=True)
    np.testing.assert_array_equal(ds.data[:, 0], arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ds.targets, arrays["train-labels-idx1-ubyte.gz"])
    assert sorted(os.listdir(tmp_path / "MNIST" / "raw")) == sorted(blobs)
    count = len(server.state.requests)
    assert len(MNIST(str(tmp_path), train=False, download=True)) == 5
    assert len(server.state.requests) == count  # already there: no new request


def test_cifar_download(server, tmp_path, monkeypatch):
    archive = tmp_path / "served.tar.gz"
    batches = build_cifar_archive(str(archive), n=4)
    blob = archive.read_bytes()
    server.state.files["cifar-10-python.tar.gz"] = blob
    monkeypatch.setattr(CIFAR10, "urls", [server.url + "cifar-10-python.tar.gz"])
    monkeypatch.setattr(CIFAR10, "archive_md5", md5(blob))
    root = tmp_path / "root"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(blob[:1000])  # a damaged earlier copy: fetched again
    test = CIFAR10(str(root), train=False, download=True)
    np.testing.assert_array_equal(test.data.reshape(4, -1), batches["test_batch"][b"data"])
    assert sorted(os.listdir(root)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_dataset_download_offline_error(server, tmp_path, monkeypatch):
    url = server.url
    server.shutdown()
    server.server_close()
    monkeypatch.setattr(MNIST, "mirrors", [url])
    with pytest.raises(DownloadError) as info:
        MNIST(str(tmp_path), download=True)
    message = str(info.value)
    assert url + "train-images-idx3-ubyte.gz" in message and "refused" in message.lower()
    assert str(tmp_path / "MNIST" / "raw") in message


def test_extract_tar_merges_into_an_existing_folder(tmp_path):
    """An archive with MNIST/readme.txt extracted where MNIST/raw/precious.gz exists: both are there after."""
    out = tmp_path / "out"
    (out / "MNIST" / "raw").mkdir(parents=True)
    (out / "MNIST" / "raw" / "precious.gz").write_bytes(b"precious")
    (out / "MNIST" / "readme.txt").write_bytes(b"old readme")
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [file_member("MNIST/readme.txt", b"new readme"), file_member("MNIST/processed/x.bin", b"x")])
    assert extract_tar(str(archive), str(out)) == ["MNIST"]
    assert (out / "MNIST" / "raw" / "precious.gz").read_bytes() == b"precious"      # not written by it: kept
    assert (out / "MNIST" / "readme.txt").read_bytes() == b"new readme"            # the archive's file replaces
    assert (out / "MNIST" / "processed" / "x.bin").read_bytes() == b"x"
    assert sorted(os.listdir(out)) == ["MNIST"]                                     # no staging folder left


@pytest.mark.parametrize("existing, member", [("MNIST/raw", "MNIST/raw"), ("MNIST/raw/file", "MNIST/raw/file/x.txt")],
                         ids=["file-over-a-folder", "folder-over-a-file"])
def test_extract_tar_refuses_to_replace_a_folder_by_a_file_or_the_reverse(tmp_path, existing, member):
    out = tmp_path / "out"
    (out / existing).parent.mkdir(parents=True)
    if member.startswith(existing + "/"):
        (out / existing).write_bytes(b"mine")
    else:
        (out / existing).mkdir()
        (out / existing / "precious.gz").write_bytes(b"mine")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [file_member("MNIST/ok.txt"), file_member(member)])
    with pytest.raises(ValueError, match="move it away first") as info:
        extract_tar(str(archive), str(out))
    assert "a.tar.gz" in str(info.value) and repr(member) in str(info.value)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before     # nothing written, nothing deleted

"""Checksummed, resumable downloads and safe archive extraction.

`download_url(urls, path, md5)` streams a file with a tqdm progress bar into `<path>.part`,
resumes an interrupted transfer with an HTTP Range request, verifies the MD5 and only then
renames the file to `path` (`os.replace`). A checksum mismatch deletes the partial file. When
every URL fails, `DownloadError` names each URL, the reason, and where to put the file by hand.

`extract_tar(archive, folder)` refuses members that would land outside `folder` (absolute
paths, `..`) and links or device files, checks every member before writing anything, and
extracts into a temporary folder whose files are moved into place only when all are out. It
merges into what `folder` already holds: a file of the archive replaces the file of the same
name, and nothing else there is touched (it never deletes what it did not write).
"""
import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

from tqdm.auto import tqdm

from ._util import default_root  # noqa: F401 (re-exported: data.download.default_root)

__all__ = ["DownloadError", "download_url", "md5sum", "check_md5", "extract_tar", "default_root"]

_USER_AGENT = "tinygrad_cnn-downloader"


class DownloadError(RuntimeError):
    """No URL could deliver a file with the expected checksum."""


def md5sum(path, chunk_size=1 << 20):
    """Hex MD5 digest of the file at `path`."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path, md5):
    """True when `path` exists and (if `md5` is given) has that MD5."""
    if not os.path.isfile(path):
        return False
    return md5 is None or md5sum(path) == md5.lower()


class _ShortTransfer(OSError):
    """The server closed the connection before sending the announced number of bytes."""


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fetch_once(url, part, timeout, progress, chunk_size, label):
    """One HTTP request for `url`, appending to `part` when it already holds bytes (Range).

    Returns normally when the whole body arrived; raises _ShortTransfer when the connection
    ended early (the bytes received stay in `part` for the next attempt), or the urllib error.
    """
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https URLs only, checked by caller)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range past the end: `part` already holds the whole file
            exc.close()
            return
        raise
    with response:
        status = getattr(response, "status", 200)
        content_range = response.headers.get("Content-Range", "")
        if offset and status == 206 and content_range.startswith(f"bytes {offset}-"):
            mode = "ab"
        elif status == 206:  # a range we did not ask for: drop what we have and ask for everything
            _remove(part)
            raise _ShortTransfer(f"the server answered with an unexpected range ({content_range or 'none'})")
        else:  # the server ignored the Range header (or none was sent): start over
            mode, offset = "wb", 0
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        total = offset + expected if expected is not None else None
        received = 0
        with open(part, mode) as f, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                         unit_divisor=1024, desc=label, disable=not progress,
                                         leave=True) as bar:
            while True:
                block = response.read(chunk_size)
                if not block:
                    break
                f.write(block)
                received += len(block)
                bar.update(len(block))
    if expected is not None and received < expected:
        raise _ShortTransfer(f"connection closed after {offset + received} of {total} bytes")


def download_url(urls, path, md5=None, progress=True, timeout=30.0, retries=3, retry_wait=0.5,
                 chunk_size=1 << 16):
    """Download `path` from the first of `urls` (a URL or a list of mirrors) that works.

    The bytes go to `path + ".part"`; a transfer cut short is resumed with an HTTP Range
    request (up to `retries` times per URL, waiting `retry_wait`·2^k seconds), and a `.part`
    file left by an earlier run is resumed too. The file is renamed to `path` only after its
    MD5 matches `md5` (when given); on a mismatch the partial file is deleted and the next URL
    is tried. Returns `path`. Raises DownloadError when no URL delivers the file.
    """
    if isinstance(urls, str):
        urls = [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("download_url: no URL given")
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    if os.path.isfile(path) and check_md5(path, md5):
        return path
    part = path + ".part"
    failures = []
    for url in urls:
        if not url.lower().startswith(("http://", "https://")):
            failures.append(f"{url}: not an http(s) URL")
            continue
        attempt = 0
        while True:
            try:
                _fetch_once(url, part, timeout, progress, chunk_size, name)
                break
            except urllib.error.HTTPError as exc:
                failures.append(f"{url}: HTTP error {exc.code} {exc.reason}")
                exc.close()
                url = None
                break
            except (_ShortTransfer, urllib.error.URLError, http.client.HTTPException, socket.timeout,
                    ConnectionError, TimeoutError) as exc:
                reason = getattr(exc, "reason", None) or exc
                attempt += 1
                if attempt > retries or not isinstance(exc, (_ShortTransfer, http.client.IncompleteRead,
                                                              ConnectionResetError, TimeoutError, socket.timeout)):
                    failures.append(f"{url}: {reason}")
                    url = None
                    break
                time.sleep(retry_wait * 2 ** (attempt - 1))
        if url is None:
            continue
        if md5 is not None:
            actual = md5sum(part)
            if actual != md5.lower():
                _remove(part)
                failures.append(f"{url}: checksum mismatch (MD5 {actual}, expected {md5}); the partial file was deleted")
                continue
        os.replace(part, path)
        return path
    kept = (f"\nThe bytes received so far are kept in {part}; running the download again resumes from there."
            if os.path.exists(part) else "")
    reasons = "\n".join(f"  - {f}" for f in failures)
    raise DownloadError(
        f"could not download {name}:\n{reasons}\n"
        f"If this machine is offline, download {urls[0]} by hand"
        f"{f' (MD5 {md5})' if md5 else ''} and put it at {path}.{kept}")


def _check_member(member, folder):
    """Raise ValueError if extracting `member` into `folder` could write outside it."""
    name = member.name
    if member.issym() or member.islnk():
        raise ValueError(f"refusing link member {name!r} (-> {member.linkname!r})")
    if not (member.isfile() or member.isdir()):
        raise ValueError(f"refusing special member {name!r} (not a regular file or folder)")
    if os.path.isabs(name) or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"refusing member with an absolute path {name!r}")
    target = os.path.realpath(os.path.join(folder, name))
    if ".." in name.replace("\\", "/").split("/") or os.path.commonpath([target, folder]) != folder:
        raise ValueError(f"refusing member {name!r}: its path escapes the target folder")
    return target


def _check_no_clash(member, folder, archive):
    """ValueError when the place of `member` in `folder` holds something extraction would have
    to delete: a file where the member is (or lies inside) a folder, a folder where it is a file."""
    parts = os.path.normpath(member.name).split(os.sep)
    for depth in range(1, len(parts) + 1):
        target = os.path.join(folder, *parts[:depth])
        is_folder = depth < len(parts) or member.isdir()
        if is_folder and os.path.lexists(target) and not os.path.isdir(target):
            raise ValueError(f"cannot extract {archive}: member {member.name!r} needs a folder at {target}, which "
                             "is a file (move it away first)")


def _merge(source, target):
    """Move the extracted file or folder `source` to `target`, merging folders: a file replaces
    the file of the same name, everything else already under `target` stays."""
    if not os.path.isdir(source):
        os.replace(source, target)
        return
    if not os.path.lexists(target):
        os.replace(source, target)  # a new folder: moved whole
        return
    for name in os.listdir(source):
        _merge(os.path.join(source, name), os.path.join(target, name))


def extract_tar(archive, folder):
    """Extract the tar archive (any compression) `archive` into `folder`, safely.

    Every member is checked before anything is written: absolute paths, paths escaping
    `folder` via `..`, links and special files raise ValueError naming the archive and the
    member, and so does a member whose place in `folder` holds something of the other kind (a
    file where the archive has a folder, or the reverse). The members are written to a
    temporary folder inside `folder` and moved into place when all are out, so an error leaves
    nothing half-extracted. Files and folders already in `folder` stay: the archive's files
    replace only the files of the same names. Returns the list of top-level names extracted.
    """
    archive = os.path.abspath(os.fspath(archive))
    folder = os.path.realpath(os.path.abspath(os.fspath(folder)))
    os.makedirs(folder, exist_ok=True)
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"archive {archive} does not exist") from None
        raise ValueError(f"{archive} is not a readable tar archive ({exc}); it is corrupt or truncated: "
                         "delete it and download it again") from None
    staging = tempfile.mkdtemp(prefix=".extract-", dir=folder)
    try:
        with tar:
            try:
                members = tar.getmembers()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ValueError(f"{archive} is corrupt or truncated ({exc}): delete it and download it again") from None
            tops = []
            for member in members:
                try:
                    target = _check_member(member, folder)
                except ValueError as exc:
                    raise ValueError(f"unsafe archive {archive}: {exc}") from None
                _check_no_clash(member, folder, archive)
                if member.isfile() and os.path.isdir(target):
                    raise ValueError(f"cannot extract {archive}: member {member.name!r} is a file, but {target} is "
                                     "a folder (move it away first)")
                top = os.path.normpath(member.name).split(os.sep)[0]
                if top not in (".", "") and top not in tops:
                    tops.append(top)
            for member in members:
                target = os.path.join(staging, member.name)
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                try:
                    source = tar.extractfile(member)
                    with source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
                except (tarfile.TarError, EOFError, OSError) as exc:
                    raise ValueError(f"{archive} is corrupt or truncated at member {member.name!r} ({exc}): "
                                     "delete it and download it again") from None
        for top in tops:
            _merge(os.path.join(staging, top), os.path.join(folder, top))
        return tops
    finally:
        shutil.rmtree(staging, ignore_errors=True)

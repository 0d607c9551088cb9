"""Read a Python package index the way installers do: PEP 691 JSON pages, PEP 658 metadata.

When an index does not publish a wheel's metadata file (PEP 658), the METADATA member is read
out of the wheel with HTTP range requests (zipfile over a seekable range reader), so a 500 MB
TensorFlow wheel costs three small requests, not a download.
"""

from __future__ import annotations

import io
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Any, Protocol

from builder.errors import IndexUnreachable

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "dlenv-matrix-refresh (+https://pypi.org/project/dlenv)"


@dataclass(frozen=True)
class IndexFile:
    """One distribution file of a project, as the simple API lists it."""

    filename: str
    url: str
    size: int | None
    requires_python: str | None
    yanked: bool
    upload_time: str | None
    has_metadata: bool
    sha256: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any], base: str) -> IndexFile:
        metadata = data.get("core-metadata", data.get("dist-info-metadata", False))
        return cls(
            filename=str(data["filename"]),
            url=urllib.parse.urljoin(base, str(data["url"])),
            size=data.get("size"),
            requires_python=data.get("requires-python") or None,
            yanked=bool(data.get("yanked")),
            upload_time=data.get("upload-time"),
            has_metadata=bool(metadata),
            sha256=(data.get("hashes") or {}).get("sha256"),
        )


class Fetcher(Protocol):
    """Where refresh gets its answers: the live index, or recorded answers in tests."""

    def project(self, name: str) -> list[IndexFile]: ...

    def metadata(self, file: IndexFile) -> str: ...


class HttpFetcher:
    """The live index over HTTPS, with retries for transient failures."""

    def __init__(
        self,
        index_url: str = "https://pypi.org/simple",
        *,
        timeout: float = 60,
        cafile: str | None = None,
        retries: int = 3,
    ) -> None:
        self.index_url = index_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.context = ssl.create_default_context(cafile=cafile)

    def _open(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
        for attempt in range(self.retries):
            try:
                with urllib.request.urlopen(
                    request,
                    timeout=self.timeout,  # https index
                    context=self.context,
                ) as response:
                    return int(response.status), response.read()
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.retries - 1:
                    raise IndexUnreachable(f"the package index answered {exc.code} for {url}") from None
            except (urllib.error.URLError, OSError) as exc:
                if attempt == self.retries - 1:
                    reason = getattr(exc, "reason", exc)
                    raise IndexUnreachable(
                        f"the package index at {self.index_url} cannot be reached: {reason}",
                        hint="Check the network or proxy (https_proxy), or the CA bundle "
                        "(SSL_CERT_FILE) of a TLS-intercepting proxy.",
                    ) from None
            time.sleep(1.5 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def project(self, name: str) -> list[IndexFile]:
        url = f"{self.index_url}/{name}/"
        _, body = self._open(url, {"Accept": SIMPLE_JSON})
        try:
            page = json.loads(body)
        except json.JSONDecodeError:
            raise IndexUnreachable(f"{url} did not answer with the PEP 691 JSON API") from None
        return [IndexFile.from_json(f, url) for f in page.get("files", [])]

    def project_names(self) -> list[str]:
        """Every project on the index (its root page), for the family check of refresh."""
        _, body = self._open(f"{self.index_url}/", {"Accept": f"{SIMPLE_JSON}, text/html;q=0.1"})
        try:
            return [str(p["name"]) for p in json.loads(body).get("projects", [])]
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return _anchor_texts(body.decode("utf-8", errors="replace"))  # PEP 503 HTML (mirrors)

    def metadata(self, file: IndexFile) -> str:
        if file.has_metadata:
            return self._open(file.url + ".metadata", {})[1].decode("utf-8", errors="replace")
        if not file.size:
            raise IndexUnreachable(f"{file.filename}: no metadata file and no size to range-read")
        with zipfile.ZipFile(
            io.BufferedReader(_RangeReader(self, file.url, file.size), buffer_size=1 << 16)
        ) as wheel:
            member = next(
                (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None
            )
            if member is None:
                raise IndexUnreachable(f"{file.filename} has no .dist-info/METADATA")
            return wheel.read(member).decode("utf-8", errors="replace")


class _RangeReader(io.RawIOBase):
    """A seekable, read-only view of a remote file, read with HTTP Range requests."""

    def __init__(self, fetcher: HttpFetcher, url: str, size: int) -> None:
        super().__init__()
        self.fetcher, self.url, self.size, self.pos = fetcher, url, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= self.size:
            return 0
        end = min(self.size, self.pos + len(buffer)) - 1
        status, data = self.fetcher._open(self.url, {"Range": f"bytes={self.pos}-{end}"})
        if status != 206:
            raise IndexUnreachable(
                f"{self.url} ignores HTTP range requests; dlenv will not "
                "download a whole wheel to read its metadata"
            )
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def _anchor_texts(html: str) -> list[str]:
    """The link texts of a PEP 503 root page: one project name per anchor."""
    from html.parser import HTMLParser

    names: list[str] = []

    class Anchors(HTMLParser):
        inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.inside = tag == "a"

        def handle_endtag(self, tag: str) -> None:
            self.inside = False

        def handle_data(self, data: str) -> None:
            if self.inside and data.strip():
                names.append(data.strip())

    Anchors().feed(html)
    return names

"""Helpers for the tl.data tests: small generated IDX archives and a local HTTP file server."""

from __future__ import annotations

import collections
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np

# The real MNIST test set shipped beside the repository (CI: <repo>/../shared/data/mnist)
SHARED_MNIST = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist").resolve()
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

SPLIT_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file built by hand (independent of tl.data.write_idx): header + big-endian data."""
    big = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8", 0x09: ">i1"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def make_split(n: int = 100, seed: int = 0, train: bool = False):
    """Random uint8 images (n, 28, 28), labels (n,) and their gzip IDX archives by name."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    img_name, lbl_name = (stem + ".gz" for stem in SPLIT_FILES[train])
    files = {img_name: gzip.compress(idx_bytes(images, 0x08), mtime=0),
             lbl_name: gzip.compress(idx_bytes(labels, 0x08), mtime=0)}
    return images, labels, files


def dataset_class(base, files: dict[str, bytes], name: str = "Tiny"):
    """A subclass of MNIST/FashionMNIST whose checksums are those of ``files``."""
    resources = dict(base.resources)
    resources.update({fname: sha256(blob) for fname, blob in files.items()})
    return type(name, (base,), {"resources": resources})


class FileServer:
    """Serves ``files`` (name -> bytes) on 127.0.0.1 at an ephemeral port, counting requests.

    ``short`` names are announced with their full Content-Length but cut off halfway, like a
    dropped connection. Unknown names get 404.
    """

    def __init__(self, files: dict[str, bytes], short: tuple[str, ...] = ()):
        self.files, self.short = dict(files), set(short)
        self.requests: collections.Counter[str] = collections.Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                name = self.path.lstrip("/")
                server.requests[name] += 1
                blob = server.files.get(name)
                if blob is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                self.wfile.write(blob[: len(blob) // 2] if name in server.short else blob)
                self.close_connection = True

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def dead_url() -> str:
    """A URL on a 127.0.0.1 port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def isolate_env(monkeypatch, tmp_path: Path) -> Path:
    """A fresh home (so ~/.cache is empty), no TINYGRAD_LITE_DATA, no proxies for 127.0.0.1."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TINYGRAD_LITE_DATA", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return home

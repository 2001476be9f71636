"""The download path, exercised for real against HTTP servers on 127.0.0.1.

The dataset classes are subclassed with the checksums of small generated archives (class
attribute ``resources``) and pointed at local servers with ``mirrors=``: nothing is patched.
"""

import gzip
import os
import socket

import numpy as np
import pytest

from tinygrad_lite.data.datasets import (MNIST, DatasetNotFoundError, DownloadError,
                                         FashionMNIST, download)

from . import FileServer, dataset_class, dead_url, idx_bytes, isolate_env, make_split, sha256


@pytest.fixture
def home(monkeypatch, tmp_path):
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def split():
    images, labels, files = make_split(n=100, seed=1, train=False)
    return images, labels, files, dataset_class(MNIST, files)


def test_download_into_root(tmp_path, home, split):
    images, labels, files, Tiny = split
    root = tmp_path / "root"
    with FileServer(files) as srv:
        ds = Tiny(root=root, train=False, mirrors=[srv.url], progress=False)
    assert sorted(os.listdir(root)) == sorted(files)  # the archives, and no temporary files
    for name, blob in files.items():
        assert (root / name).read_bytes() == blob
    assert dict(srv.requests) == {name: 1 for name in files}
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))
    assert len(ds) == 100 and ds.data.dtype.name == "uint8" and ds.targets.dtype.name == "int64"
    assert not (home / ".cache").exists()  # root was writable, so the cache stayed untouched


def test_download_with_progress_bar(tmp_path, home, split, capsys):
    _, _, files, Tiny = split
    with FileServer(files) as srv:
        Tiny(root=tmp_path / "r", train=False, mirrors=[srv.url], progress=True)
    assert "t10k-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_download_into_cache_without_root(home, split):
    images, _, files, Tiny = split
    with FileServer(files) as srv:
        ds = Tiny(train=False, mirrors=srv.url, progress=False)
    cache = home / ".cache" / "tinygrad_lite" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(files)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    # a second instance finds the cache and does not download again
    with FileServer(files) as srv2:
        again = Tiny(train=False, mirrors=[srv2.url], progress=False)
    assert sum(srv2.requests.values()) == 0
    np.testing.assert_array_equal(again.data.numpy(), images)


def test_checksum_mismatch_leaves_nothing(tmp_path, home, split):
    _, _, files, Tiny = split
    bad = dict(files)
    name = "t10k-images-idx3-ubyte.gz"
    bad[name] = bad[name][:-9] + bytes(9)  # same length, wrong bytes
    root = tmp_path / "root"
    with FileServer(bad) as srv:
        with pytest.raises(DatasetNotFoundError) as info:
            Tiny(root=root, train=False, mirrors=[srv.url], progress=False)
    msg = str(info.value)
    assert "SHA-256 checksum mismatch" in msg and sha256(files[name]) in msg
    assert sha256(bad[name]) in msg and srv.url + name in msg
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value.__cause__, DownloadError)
    assert os.listdir(root) == []  # neither the bad file nor a temporary file


def test_dropped_connection_leaves_nothing(tmp_path, home, split):
    _, _, files, Tiny = split
    root = tmp_path / "root"
    with FileServer(files, short=("t10k-labels-idx1-ubyte.gz",)) as srv:
        with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
            Tiny(root=root, train=False, mirrors=[srv.url], progress=False)
    # the images arrived intact and stay (verified); the cut-off labels left no trace
    assert os.listdir(root) == ["t10k-images-idx3-ubyte.gz"]


def test_next_mirror_after_refused_and_404(tmp_path, home, split):
    images, _, files, Tiny = split
    with FileServer({}) as empty, FileServer(files) as good:
        ds = Tiny(root=tmp_path / "r", train=False, mirrors=[dead_url(), empty.url, good.url],
                  progress=False)
    assert dict(empty.requests) == {name: 1 for name in files}  # asked, answered 404
    assert dict(good.requests) == {name: 1 for name in files}
    np.testing.assert_array_equal(ds.data.numpy(), images)


def test_next_mirror_after_bad_checksum(tmp_path, home, split):
    images, _, files, Tiny = split
    corrupt = {name: blob[::-1] for name, blob in files.items()}
    with FileServer(corrupt) as bad, FileServer(files) as good:
        ds = Tiny(root=tmp_path / "r", train=False, mirrors=[bad.url, good.url], progress=False)
    assert sum(bad.requests.values()) == 2 and sum(good.requests.values()) == 2
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert sorted(os.listdir(tmp_path / "r")) == sorted(files)


def test_offline_error_lists_places_and_failures(tmp_path, home, split):
    _, _, files, Tiny = split
    root = tmp_path / "root"
    urls = [dead_url(), dead_url()]
    with pytest.raises(DatasetNotFoundError) as info:
        Tiny(root=root, train=False, mirrors=urls, progress=False)
    msg = str(info.value)
    for place in (str(root), str(root / "mnist"), str(home / ".cache" / "tinygrad_lite" / "mnist")):
        assert place in msg
    for url in urls:
        assert url + "t10k-images-idx3-ubyte.gz" in msg
    assert msg.count("refused") == 2
    assert "TINYGRAD_LITE_DATA" in msg and "root=" in msg and "download=True" in msg
    assert os.listdir(root) == []


def test_download_false_does_not_touch_the_network(tmp_path, home, split):
    _, _, files, Tiny = split
    with FileServer(files) as srv:
        with pytest.raises(FileNotFoundError) as info:
            Tiny(root=tmp_path / "nowhere", train=False, download=False, mirrors=[srv.url])
    assert sum(srv.requests.values()) == 0
    msg = str(info.value)
    assert "download=False" in msg and str(tmp_path / "nowhere") in msg and "does not exist" in msg
    assert "t10k-images-idx3-ubyte" in msg and "TINYGRAD_LITE_DATA" in msg


def test_fashion_error_mentions_the_debian_package(tmp_path, home):
    class NoSystem(FashionMNIST):
        system_dirs = (str(tmp_path / "usr-share"),)  # the test must not find the real package

    with pytest.raises(DatasetNotFoundError) as info:
        NoSystem(root=tmp_path / "r", download=False)
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert str(tmp_path / "usr-share") in msg and "fashion-mnist" in msg


def test_cached_file_is_not_downloaded_again(tmp_path, home, split):
    images, labels, files, Tiny = split
    root = tmp_path / "root"
    root.mkdir()
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(files["t10k-images-idx3-ubyte.gz"])
    with FileServer(files) as srv:
        ds = Tiny(root=root, train=False, mirrors=[srv.url], progress=False)
    assert dict(srv.requests) == {"t10k-labels-idx1-ubyte.gz": 1}
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    # an uncompressed file counts as present too
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    (root / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels, 0x08))
    with FileServer(files) as srv:
        Tiny(root=root, train=False, mirrors=[srv.url], progress=False)
    assert sum(srv.requests.values()) == 0


def test_env_var_lookup(tmp_path, home, monkeypatch, split):
    images, _, files, Tiny = split
    env = tmp_path / "datasets"
    (env / "mnist").mkdir(parents=True)
    for name, blob in files.items():
        (env / "mnist" / name).write_bytes(blob)
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(env))
    ds = Tiny(train=False, mirrors=[dead_url()], progress=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.image_file.parent == env / "mnist"
    # the directory itself also works (decompressed files)
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, blob in files.items():
        (flat / name.removesuffix(".gz")).write_bytes(gzip.decompress(blob))
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(flat))
    ds = Tiny(train=False, download=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    # root= comes before the environment variable
    other_images, _, other_files = make_split(n=7, seed=2, train=False)
    root = tmp_path / "root"
    root.mkdir()
    for name, blob in other_files.items():
        (root / name).write_bytes(blob)
    np.testing.assert_array_equal(Tiny(root=root, train=False).data.numpy(), other_images)


def test_invalid_local_files_are_reported(tmp_path, home):
    root = tmp_path / "root"
    root.mkdir()
    images = np.zeros((5, 28, 27), np.uint8)
    (root / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images, 0x08))
    (root / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*\(N, 28, 28\).*\(5, 28, 27\)"):
        MNIST(root=root, train=False, download=False)
    (root / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8), 8))
    with pytest.raises(ValueError, match="should hold 4 uint8 labels"):
        MNIST(root=root, train=False, download=False)
    (root / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(4, 10, np.uint8), 0x08))
    with pytest.raises(ValueError, match="label 10, expected 0..9"):
        MNIST(root=root, train=False, download=False)


def test_download_function_reports_every_mirror(tmp_path):
    blob = b"payload" * 100
    with FileServer({"f.bin": blob}) as srv, FileServer({}) as empty:
        urls = [dead_url(), empty.url, srv.url]
        with pytest.raises(DownloadError) as info:
            download("f.bin", urls, tmp_path / "d", "0" * 64, progress=False, timeout=5)
        path = download("f.bin", urls, tmp_path / "d", sha256(blob), progress=False, timeout=5)
    failures = dict(info.value.failures)
    assert list(failures) == [u + "f.bin" for u in urls]
    assert "refused" in failures[urls[0] + "f.bin"]
    assert "HTTP error 404" in failures[urls[1] + "f.bin"]
    assert "checksum mismatch" in failures[urls[2] + "f.bin"]
    assert path.read_bytes() == blob and os.listdir(tmp_path / "d") == ["f.bin"]


def test_silent_mirror_times_out_and_next_is_used(tmp_path, home, split):
    images, _, files, Tiny = split

    class Impatient(Tiny):
        timeout = 0.3

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow_url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with FileServer(files) as good:
            ds = Impatient(root=tmp_path / "r", train=False, mirrors=[slow_url, good.url],
                           progress=False)
        with pytest.raises(DownloadError, match="timed out after 0.3 s"):
            download("x.gz", [slow_url], tmp_path / "d", "0" * 64, progress=False, timeout=0.3)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert os.listdir(tmp_path / "d") == []

"""MNIST and Fashion-MNIST from IDX files, found locally or downloaded (checked by SHA-256).

Where the files are looked for, in order (``<name>`` is ``mnist`` or ``fashion-mnist``):

1. the ``root`` argument (``root/`` itself, then ``root/<name>/``);
2. the ``TINYGRAD_LITE_DATA`` environment variable, a directory: ``$TINYGRAD_LITE_DATA/<name>/``,
   then ``$TINYGRAD_LITE_DATA/`` itself;
3. ``~/.cache/tinygrad_lite/<name>/``;
4. Fashion-MNIST only: ``/usr/share/datasets/fashion-mnist`` (Debian package
   ``dataset-fashion-mnist``).

A split is taken from the first directory holding both its files (``.gz`` or uncompressed).
Otherwise, with ``download=True``, each missing archive is fetched from the mirrors in turn into
``root`` (if given) or the cache directory: streamed into a temporary file next to the target,
checked against its SHA-256, then renamed into place, so an interrupted or corrupted download
never leaves a file that later passes as data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..device import CPU, get_device
from ..tensor import Tensor
from .dataset import Dataset
from .idx import read_idx

ENV_VAR = "TINYGRAD_LITE_DATA"
# some mirrors answer 403 to urllib's default agent
_HEADERS = {"User-Agent": "tinygrad_lite (dataset download)"}


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """The dataset files are nowhere to be found and could not be downloaded."""


class DownloadError(RuntimeError):
    """Every mirror failed for one file; ``failures`` holds ``(url, reason)`` pairs."""

    def __init__(self, message: str, failures: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.failures = failures or []


def cache_dir(name: str) -> Path:
    """``~/.cache/tinygrad_lite/<name>``, the default download location."""
    return Path.home() / ".cache" / "tinygrad_lite" / name


def _describe(exc: BaseException, timeout: float) -> str:
    """A one-line reason for a failed fetch."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g} s"
    return str(exc) or type(exc).__name__


def _fetch(url: str, dest: Path, sha256: str, progress: bool, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, verify it, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
                urllib.request.Request(url, headers=_HEADERS), timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            digest, received = hashlib.sha256(), 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise OSError(f"incomplete download: got {received} of {total} bytes")
            if digest.hexdigest() != sha256.lower():
                raise ValueError(f"SHA-256 checksum mismatch: expected {sha256.lower()}, "
                                 f"got {digest.hexdigest()} ({received} bytes)")
            out.flush()
            os.fsync(out.fileno())  # the data is on disk before the name says it is complete
        os.replace(tmp, dest)
    except BaseException:  # also Ctrl-C: never leave the partial file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def download(filename: str, mirrors, directory, sha256: str, *, progress: bool = True,
             timeout: float = 30.0) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right SHA-256.

    Args:
        filename: the file name appended to each mirror URL.
        mirrors: base URLs, tried in order.
        directory: where the file goes (created if needed).
        sha256: expected SHA-256 hex digest of the file.
        progress: show a tqdm progress bar (bytes).
        timeout: seconds to wait on the connection before trying the next mirror.

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: every mirror failed (HTTP error, refused connection, timeout, checksum
            mismatch, ...); the message lists each mirror's failure.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / filename
    failures: list[tuple[str, str]] = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{filename}"
        try:
            _fetch(url, dest, sha256, progress, timeout)
            return dest
        except Exception as exc:  # any failure means: try the next mirror
            failures.append((url, _describe(exc, timeout)))
    lines = "\n".join(f"    {url}: {why}" for url, why in failures) or "    (no mirrors given)"
    raise DownloadError(f"could not download {filename} into {directory}; every mirror "
                        f"failed:\n{lines}", failures)


class _IDXImageDataset(Dataset):
    """MNIST-format data: uint8 images (N, 28, 28) and int64 labels (N,) from four IDX files.

    Subclasses set the class attributes; tests can subclass with their own ``resources`` and
    pass ``mirrors=`` to exercise the real download path against a local server.
    """

    dirname: str = ""                     # directory name under the data dirs and the cache
    mirrors: tuple[str, ...] = ()         # base URLs, tried in order
    resources: dict[str, str] = {}        # archive name -> SHA-256
    classes: list[str] = []
    mean: float = 0.0                     # pixel statistics of the training set, in [0, 1]
    std: float = 1.0
    system_dirs: tuple[str, ...] = ()     # read-only places a system package installs into
    install_hint: str | None = None       # how a system package provides the files
    timeout: float = 30.0                 # seconds per connection attempt
    files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root=None, train: bool = True, download: bool = True, mirrors=None,
                 progress: bool = True, transform=None, target_transform=None):
        self.root = None if root is None else Path(root).expanduser()
        self.train = bool(train)
        if isinstance(mirrors, str):
            mirrors = (mirrors,)
        self.mirrors = tuple(type(self).mirrors if mirrors is None else mirrors)
        self.progress = progress
        self.transform, self.target_transform = transform, target_transform
        places = self.search_dirs()
        found = self._locate([p for p, _ in places])
        failure = None
        if found is None and download:
            try:
                found = self._download()
            except DownloadError as exc:
                failure = exc
        if found is None:
            raise DatasetNotFoundError(self._not_found(places, download, failure)) from failure
        self.image_file, self.label_file = found
        images, labels = read_idx(self.image_file), read_idx(self.label_file)
        self._validate(images, labels)
        self.data = Tensor._make(images, CPU)
        self.targets = Tensor._make(labels.astype(np.int64), CPU)

    # ---- finding and fetching the files --------------------------------------------------------
    def search_dirs(self) -> list[tuple[Path, str]]:
        """``(directory, why it is searched)`` in lookup order."""
        places = []
        if self.root is not None:
            places += [(self.root, "root="), (self.root / self.dirname, "root=")]
        env = os.environ.get(ENV_VAR)
        if env:
            env_dir = Path(env).expanduser()
            places += [(env_dir / self.dirname, f"${ENV_VAR}"), (env_dir, f"${ENV_VAR}")]
        with contextlib.suppress(RuntimeError):  # no home directory
            places.append((cache_dir(self.dirname), "cache"))
        places += [(Path(d), "system package") for d in self.system_dirs]
        seen, unique = set(), []
        for path, why in places:
            if path not in seen:
                seen.add(path)
                unique.append((path, why))
        return unique

    @staticmethod
    def _find(directory: Path, stem: str) -> Path | None:
        for name in (stem + ".gz", stem):
            if (directory / name).is_file():
                return directory / name
        return None

    def _locate(self, dirs) -> tuple[Path, Path] | None:
        for d in dirs:
            paths = [self._find(d, stem) for stem in self.files[self.train]]
            if all(paths):
                return paths[0], paths[1]
        return None

    def _download(self) -> tuple[Path, Path]:
        """Fetch the split's missing archives into the first writable location."""
        candidates = ([self.root] if self.root is not None else []) + \
            [cache_dir(self.dirname)]
        refused = []
        for target in candidates:
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                refused.append(f"    {target}: {exc.strerror or exc}")
                continue
            if os.access(target, os.W_OK):
                break
            refused.append(f"    {target}: not writable")
        else:
            raise DownloadError("no writable directory to download into:\n" + "\n".join(refused))
        for stem in self.files[self.train]:
            if self._find(target, stem) is None:
                name = stem + ".gz"
                if name not in self.resources:
                    raise DownloadError(f"{type(self).__name__}.resources has no SHA-256 for "
                                        f"{name}, so it can't be downloaded safely")
                download(name, self.mirrors, target, self.resources[name],
                         progress=self.progress, timeout=self.timeout)
        return self._locate([target])

    def _not_found(self, places, download: bool, failure) -> str:
        split = "train" if self.train else "test"
        wanted = " and ".join(f"{s}[.gz]" for s in self.files[self.train])
        lines = [f"{type(self).__name__} ({split} split): could not find {wanted}; looked in:"]
        for path, why in places:
            state = "" if path.is_dir() else ", does not exist"
            lines.append(f"    {path}  ({why}{state})")
        if not os.environ.get(ENV_VAR):
            lines.append(f"    (${ENV_VAR} is not set)")
        if failure is not None:
            lines.append(f"Downloading failed: {failure}")
        elif not download:
            lines.append("Nothing was downloaded because download=False.")
        try:
            cache = cache_dir(self.dirname)
        except RuntimeError:
            cache = f"~/.cache/tinygrad_lite/{self.dirname}"
        lines += ["Ways to provide the files:",
                  "    - pass root=<directory holding the files>",
                  f"    - set {ENV_VAR}=<directory> (files in <directory>/{self.dirname}/ "
                  "or <directory>/)",
                  f"    - copy them into {cache}/"]
        if self.install_hint:
            lines.append(f"    - {self.install_hint}")
        mirrors = ", ".join(self.mirrors) or "none configured"
        lines.append(f"    - download=True with network access (mirrors: {mirrors})")
        return "\n".join(lines)

    def _validate(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Shapes and dtypes of MNIST-format data, so a wrong file fails here, not in training."""
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"{type(self).__name__}: '{self.image_file}' should hold uint8 "
                             f"images of shape (N, 28, 28), got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"{type(self).__name__}: '{self.label_file}' should hold "
                             f"{images.shape[0]} uint8 labels (one per image in "
                             f"'{self.image_file.name}'), got {labels.dtype} {labels.shape}")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise ValueError(f"{type(self).__name__}: '{self.label_file}' has label "
                             f"{int(labels.max())}, expected 0..{len(self.classes) - 1}")

    # ---- the dataset -----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int):
        """``(image, label)``: a uint8 tensor (28, 28) and an int (after any transforms)."""
        image = Tensor._make(self.data._data[index], self.data.device)
        label = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    @property
    def tensors(self) -> tuple[Tensor, Tensor]:
        """``(data, targets)``: lets the DataLoader fancy-index whole batches (no transforms)."""
        if self.transform is not None or self.target_transform is not None:
            raise AttributeError("tensors: samples go through transforms, index one by one")
        return self.data, self.targets

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def to_tensors(self, normalize: bool = True, device=None) -> tuple[Tensor, Tensor]:
        """The whole split as training-ready tensors.

        Args:
            normalize: standardise with the dataset's canonical mean and std after scaling to
                [0, 1] (as torchvision's ``ToTensor()`` then ``Normalize((mean,), (std,))``).
            device: where to put the tensors (default CPU).

        Returns:
            images float32 (N, 1, 28, 28) and labels int64 (N,).
        """
        images = self.data.numpy()
        x = images.astype(np.float32).reshape(images.shape[0], 1, *images.shape[1:])
        x /= np.float32(255)
        if normalize:  # float32 scalars: no silent upcast of the whole array to float64
            x -= np.float32(self.mean)
            x /= np.float32(self.std)
        dev = get_device(device)
        labels = self.targets.numpy().copy()  # the caller's labels don't alias .targets
        return Tensor._make(dev.from_numpy(x), dev), Tensor._make(dev.from_numpy(labels), dev)

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Files: {self.image_file}, {self.label_file}\n"
                f"    Split: {'Train' if self.train else 'Test'}")


class MNIST(_IDXImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 10 classes.

    Args:
        root: directory with the IDX files (also the download target when given).
        train: the training split (else the test split).
        download: fetch missing files from the mirrors.
        mirrors: base URLs to download from instead of the canonical ones.
        progress: show a progress bar while downloading.
        transform, target_transform: optional callables applied in ``__getitem__``.
    """

    dirname = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    # SHA-256 of the canonical archives. t10k: hashed from the real files (the project's shared
    # test data). train: as pinned in public code, e.g. ankane/torchvision-ruby
    # lib/torchvision/datasets/mnist.rb, whose t10k values agree with our own hashes.
    resources = {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    mean, std = 0.1307, 0.3081


class FashionMNIST(_IDXImageDataset):
    """Zalando's Fashion-MNIST: 60,000 training and 10,000 test clothing images, 10 classes.

    Same arguments as :class:`MNIST`. Also found in ``/usr/share/datasets/fashion-mnist``, where
    the Debian package ``dataset-fashion-mnist`` installs it.
    """

    dirname = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    # SHA-256 of the upstream archives, as shipped unchanged by Debian's dataset-fashion-mnist
    resources = {
        "train-images-idx3-ubyte.gz":
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "train-labels-idx1-ubyte.gz":
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "t10k-images-idx3-ubyte.gz":
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "t10k-labels-idx1-ubyte.gz":
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    mean, std = 0.2860, 0.3530
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    install_hint = "sudo apt-get install dataset-fashion-mnist (installs into " \
        "/usr/share/datasets/fashion-mnist)"

"""Images as data: a folder of class subfolders, a ``.npz`` of arrays, or a table with a column of image paths.

Every form becomes a table whose image column holds absolute file paths, so images walk the same path as any
column (schema, cleaning, splits, the preprocessor). Pixels are decoded once with Pillow, resized to one square
size chosen from the training images, and cached as uint8 arrays keyed by the file's content hash and the size
(``TRAINWRIGHT_CACHE``, default ``~/.cache/trainwright``), so a second run does not decode again.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from trainwright.errors import DataError
from trainwright.runs.store import write_bytes, write_text

__all__ = ["IMAGE_SUFFIXES", "IMAGE_COLUMN", "LABEL_COLUMN", "looks_like_image_paths", "read_image_folder",
           "read_npz", "resolve_image_paths", "choose_size", "load_pixels", "unreadable",
           "cache_dir", "image_shape"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_COLUMN, LABEL_COLUMN = "image", "label"
MAX_SIZE = 64  # the largest side chosen automatically (features.image_size sets any other)
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P")


def cache_dir() -> Path:
    """Where decoded pixels and images unpacked from ``.npz`` files are kept."""
    return Path(os.environ.get("TRAINWRIGHT_CACHE") or Path.home() / ".cache" / "trainwright")


def looks_like_image_paths(values: pd.Series) -> bool:
    """Whether (nearly) every non-missing value is a path ending in an image suffix.

    Example:
        >>> looks_like_image_paths(pd.Series(["a/1.png", "b/2.JPG", None]))
        True
    """
    text = values.dropna()
    if len(text) == 0 or not (pd.api.types.is_object_dtype(text) or pd.api.types.is_string_dtype(text)):
        return False

    def share(part: pd.Series) -> float:
        return float(part.astype(str).str.strip().str.lower().str.endswith(IMAGE_SUFFIXES).mean())

    # the first 200 values decide for most columns, so a table of long text columns pays almost nothing
    return share(text.iloc[:200]) >= 0.95 and (len(text) <= 200 or share(text) >= 0.95)


def read_image_folder(path: Path) -> pd.DataFrame:
    """A table of the images under ``path``: column ``image`` (absolute paths) and, when the images sit in
    subfolders, ``label`` (the name of the first-level subfolder: one subfolder per class).

    Raises:
        DataError: the folder holds no image files.
    """
    path = Path(path).resolve()
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise DataError(f"{path}: the folder holds no image files ({', '.join(IMAGE_SUFFIXES)}). Give a folder with "
                        "one subfolder of images per class, a .npz of arrays, or a CSV/Parquet table.", file=str(path))
    frame = pd.DataFrame({IMAGE_COLUMN: [str(p) for p in files]})
    nested = [p.relative_to(path).parts for p in files]
    if all(len(parts) > 1 for parts in nested):
        frame[LABEL_COLUMN] = [parts[0] for parts in nested]
    return frame


def read_npz(path: Path, sha256: str) -> pd.DataFrame:
    """A table of the images in a ``.npz``: the array of images (n, h, w) or (n, h, w, channels) or
    (n, channels, h, w), uint8 or floats in [0, 1] or [0, 255], and a 1-d array of n labels when there is one.
    The images are written once as PNG files in the cache (keyed by ``sha256``, the file's hash) and the table
    holds their paths. A file with no image array but a 2-d numeric one (n, steps) is a table of numeric
    sequences (columns x0, x1, ..., and ``label``).

    Raises:
        DataError: no array of images in the file, or labels of another length.
    """
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    images = [k for k, a in arrays.items() if a.ndim in (3, 4)]
    sequences = [k for k, a in arrays.items() if a.ndim == 2 and a.dtype.kind in "fiu"]
    if not images and sequences:
        return _sequence_table(arrays, sequences[0], path)
    if not images:
        raise DataError(f"{path}: no array of images or sequences in it (arrays: "
                        f"{', '.join(f'{k} {a.shape}' for k, a in arrays.items())}); save the images as an array "
                        "(n, height, width[, channels]), numeric sequences as (n, steps x channels), and the labels "
                        "as a 1-d array.", file=str(path))
    key = images[0]
    X = arrays[key]
    labels = _labels(arrays, key, "images", path)
    folder = cache_dir() / "npz" / sha256[:32]
    files = [folder / f"{i:06d}.png" for i in range(len(X))]
    if not (folder / "done").exists():
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        for file, image in zip(files, _as_uint8(X, path)):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            write_bytes(file, buffer.getvalue())
        write_text(folder / "done", str(len(X)))
    frame = pd.DataFrame({IMAGE_COLUMN: [str(f) for f in files]})
    if labels:
        frame[LABEL_COLUMN] = arrays[labels[0]]
    return frame


def _labels(arrays: dict, key: str, what: str, path: Path) -> list[str]:
    """The 1-d arrays as long as ``arrays[key]`` (candidate labels); a ``DataError`` when the only 1-d arrays have
    another length."""
    n = len(arrays[key])
    labels = [k for k, a in arrays.items() if a.ndim == 1 and len(a) == n]
    wrong = [k for k, a in arrays.items() if a.ndim == 1 and len(a) != n]
    if wrong and not labels:
        raise DataError(f"{path}: '{wrong[0]}' has {len(arrays[wrong[0]])} labels for {n} {what} in '{key}'.",
                        file=str(path))
    return labels


def _sequence_table(arrays: dict, key: str, path: Path) -> pd.DataFrame:
    """An (n, steps) numeric array as a table of columns x0, x1, ... (time-major: with several channels per step,
    (n, steps x channels)) and the 1-d labels, for the sequence models."""
    X = arrays[key]
    labels = _labels(arrays, key, "sequences", path)
    frame = pd.DataFrame(X.astype(np.float64), columns=[f"x{i}" for i in range(X.shape[1])])
    if labels:
        frame[LABEL_COLUMN] = arrays[labels[0]]
    return frame


def _as_uint8(X: np.ndarray, path: Path) -> np.ndarray:
    """(n, h, w) or (n, h, w, c) uint8 from the array forms ``read_npz`` accepts."""
    if X.ndim == 4 and X.shape[1] in (1, 3) and X.shape[-1] not in (1, 3):
        X = X.transpose(0, 2, 3, 1)  # channels first -> last
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.dtype != np.uint8:
        X = X.astype(np.float64)
        if not np.isfinite(X).all():
            raise DataError(f"{path}: the images hold NaN or infinite values.", file=str(path))
        X = X * 255 if X.max(initial=0) <= 1 else X
        X = np.clip(np.rint(X), 0, 255).astype(np.uint8)
    return X


def resolve_image_paths(frame: pd.DataFrame, base: Path) -> pd.DataFrame:
    """``frame`` with relative paths in image columns made absolute against ``base`` (the table's folder);
    the same frame when there are none."""
    out = None
    for col in frame.columns:
        values = frame[col]
        if not looks_like_image_paths(values):
            continue
        text = values.astype("string").str.strip()
        relative = text.notna() & ~text.fillna("/").map(lambda p: os.path.isabs(p))
        if relative.any():
            out = frame.copy() if out is None else out
            out[col] = text.where(~relative, text.map(lambda p: str(base / p) if isinstance(p, str) else p))
    return frame if out is None else out


def choose_size(paths: pd.Series, limit: int = 200) -> tuple[int, int, str]:
    """(side, channels, why) for square images resized from ``paths``: the median shorter side of up to
    ``limit`` of them (read from their headers), at most 64 and at least 8; 3 channels if any is in colour."""
    from PIL import Image

    sides, colour = [], False
    for p in paths.dropna().iloc[:limit]:
        try:
            with Image.open(p) as im:
                sides.append(min(im.size))
                colour |= im.mode not in _GREY_MODES
        except (OSError, ValueError):
            continue  # unreadable files are reported by cleaning
    if not sides:
        return 32, 1, "no image could be read; 32x32 grey"
    median = int(np.median(sides))
    side = int(min(max(median, 8), MAX_SIZE))
    why = (f"median shorter side {median} px of {len(sides)} images" + (f", capped at {MAX_SIZE}" if median > MAX_SIZE
                                                                        else "")
           + ("; colour" if colour else "; greyscale"))
    return side, 3 if colour else 1, why


def image_shape(n_features: int) -> tuple[int, int, int]:
    """(channels, side, side) of square images of 1 or 3 channels flattened to ``n_features``.

    Raises:
        ValueError: ``n_features`` is no such image.

    Example:
        >>> image_shape(784), image_shape(3 * 32 * 32)
        ((1, 28, 28), (3, 32, 32))
    """
    for channels in (1, 3):
        side = int(round((n_features / channels) ** 0.5))
        if side * side * channels == n_features:
            return channels, side, side
    raise ValueError(f"{n_features} features are not the pixels of one square image of 1 or 3 channels")


def unreadable(paths: pd.Series) -> dict:
    """{row label: reason} of the paths that are missing or cannot be decoded as images (each decoded once,
    which fills nothing: the cache is keyed by size)."""
    from PIL import Image

    bad = {}
    for row, p in paths.dropna().items():
        try:
            with Image.open(p) as im:
                im.verify()
        except FileNotFoundError:
            bad[row] = "file not found"
        except (OSError, ValueError, SyntaxError) as exc:
            bad[row] = f"not a readable image ({str(exc)[:80] or type(exc).__name__})"
    return bad


def load_pixels(paths: pd.Series, side: int, channels: int) -> np.ndarray:
    """(rows, channels * side * side) float64 pixels in [0, 255], channel-major (C, H, W); NaN rows where the
    path is missing. Decoded images are cached by content hash and size.

    Raises:
        DataError: a file is missing or is not an image (named).
    """
    out = np.full((len(paths), channels * side * side), np.nan)
    store = cache_dir() / "pixels"
    for i, p in enumerate(paths.to_numpy()):
        if not isinstance(p, str) or not p:
            continue
        out[i] = _pixels(Path(p), side, channels, store)
    return out


def _pixels(path: Path, side: int, channels: int, store: Path) -> np.ndarray:
    from PIL import Image

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"image file {path} cannot be read ({exc.strerror or exc}); restore it or remove its row.",
                        file=str(path)) from None
    key = f"{hashlib.sha256(data).hexdigest()[:40]}-{side}-{channels}"
    cached = store / key[:2] / f"{key}.npy"
    if cached.exists():
        try:
            return np.load(cached, allow_pickle=False).reshape(-1).astype(np.float64)
        except (OSError, ValueError):
            pass  # a torn cache entry is decoded again
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB" if channels == 3 else "L").resize((side, side), Image.Resampling.BILINEAR)
            array = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"image file {path} is not a readable image ({str(exc)[:120] or type(exc).__name__}); "
                        "replace it or remove its row.", file=str(path)) from None
    array = array[None] if channels == 1 else array.transpose(2, 0, 1)  # (C, H, W)
    cached.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(cached, buffer.getvalue())  # atomic: a process reading it meanwhile sees the whole file or none
    return array.reshape(-1).astype(np.float64)

"""Audit checks of image columns: the same picture under several names (by content hash, across splits too),
images of odd size or channels, and images with (nearly) nothing in them."""

from __future__ import annotations


import numpy as np
import pandas as pd

from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import Finding

__all__ = ["check_images"]

NEAR_CONSTANT_STD = 2.0  # pixel standard deviation (0-255) below which an image holds (nearly) nothing
SIDE = 16  # images are decoded at this size for the near-constant check


def check_images(ctx, cfg: AuditConfig) -> list[Finding]:
    """Findings about every image column: copies (by content hash), odd sizes or mixed modes, blank images."""
    found: list[Finding] = []
    for col in (c for c in ctx.features if ctx.kinds.get(c) == "image"):
        paths = ctx.frame[col]
        found += _duplicates(col, paths, ctx.splits)
        found += _odd_sizes(col, paths)
        found += _near_constant(col, paths)
    return found


def _digest(path) -> str | None:
    from trainwright.data.sources import file_sha256

    try:
        return file_sha256(path)
    except (OSError, TypeError):
        return None


def _duplicates(col, paths: pd.Series, splits) -> list[Finding]:
    digests = pd.Series([_digest(p) for p in paths], index=range(len(paths)))
    present = digests.dropna()
    repeated = present[present.duplicated(keep="first")]
    if repeated.empty:
        return []
    crossing = 0
    if splits:
        where = {int(i): name for name in ("train", "validation", "test") for i in splits.get(name, [])}
        first = present.drop_duplicates(keep="first")
        owner = {d: where.get(int(i)) for i, d in first.items()}
        crossing = sum(where.get(int(i)) not in (None, owner[d]) for i, d in repeated.items())
    return [Finding(
        "duplicate_images", "warning",
        f"{len(repeated)} image(s) of column '{col}' are byte-for-byte copies of earlier ones under other names"
        + (f"; {crossing} of them sit in another split than their original (the test would score seen images)"
           if crossing else ""),
        col, len(repeated), [int(i) for i in repeated.index[:5]],
        "remove the copies (or keep them in one split with split.group_column)", {"across_splits": crossing})]


def _odd_sizes(col, paths: pd.Series) -> list[Finding]:
    from PIL import Image

    sizes, modes = [], []
    for p in paths:
        try:
            with Image.open(p) as im:
                sizes.append(im.size)
                modes.append(im.mode)
        except (OSError, ValueError, TypeError):
            sizes.append(None)
            modes.append(None)
    known = [(i, s) for i, s in enumerate(sizes) if s]
    if not known:
        return []
    short = np.array([min(s) for _, s in known], dtype=float)
    aspect = np.array([max(s) / max(min(s), 1) for _, s in known])
    odd = [known[j][0] for j in np.flatnonzero((short < np.median(short) / 2) | (aspect > 2))]
    out = []
    if odd:
        out.append(Finding(
            "odd_image_sizes", "warning",
            f"{len(odd)} image(s) of column '{col}' are much smaller than the median ({int(np.median(short))} px) "
            "or stretched (aspect > 2): resizing to one square size distorts them",
            col, len(odd), odd[:5], "check them; crop or pad them, or set features.image_size",
            {"median_short_side": int(np.median(short))}))
    kinds = {m for m in modes if m}
    if len(kinds) > 1:
        out.append(Finding(
            "mixed_image_channels", "info",
            f"column '{col}' mixes image modes {sorted(kinds)}: all are converted to "
            f"{'colour' if kinds - {'L', '1', 'LA', 'P', 'I', 'I;16', 'F'} else 'greyscale'}",
            col, len(modes), [], "nothing to do unless a mode is unexpected", {"modes": sorted(kinds)}))
    return out


def _near_constant(col, paths: pd.Series) -> list[Finding]:
    """Images whose pixels barely vary, decoded at ``SIDE`` px in one pass (row by row only if a file fails)."""
    from trainwright.data.images import load_pixels
    from trainwright.errors import DataError

    ok = paths.map(lambda p: isinstance(p, str) and bool(p)).to_numpy(dtype=bool)
    present = paths[ok]
    try:
        spread = load_pixels(present, SIDE, 1).std(axis=1)
    except DataError:  # unreadable files are cleaning's to report; the others are still checked
        spread = np.array([_spread(p) for p in present])
    flat = np.flatnonzero(ok)[np.asarray(spread) < NEAR_CONSTANT_STD].tolist()
    if not flat:
        return []
    return [Finding(
        "near_constant_images", "warning",
        f"{len(flat)} image(s) of column '{col}' are (nearly) one flat colour: blank, black or failed captures",
        col, len(flat), flat[:5], "look at them; remove the ones that hold no picture", {})]


def _spread(path: str) -> float:
    from trainwright.data.images import load_pixels
    from trainwright.errors import DataError

    try:
        return float(load_pixels(pd.Series([path]), SIDE, 1).std())
    except DataError:
        return np.inf

"""Images as data: a folder of class subfolders, a table of image paths (relative to the table), a .npz; sizes
chosen from the data; pixels decoded once and cached; unreadable files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainwright.data import images
from trainwright.data.schema import infer_schema
from trainwright.data.sources import read_table
from trainwright.errors import DataError


def test_a_folder_of_class_subfolders_reads_as_paths_and_labels(digits_folder):
    frame = read_table(digits_folder)
    assert list(frame.columns) == ["image", "label"]
    assert len(frame) == 400 and sorted(frame["label"].unique()) == [str(d) for d in range(10)]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame["image"])
    assert infer_schema(frame)["image"].kind == "image"


def test_a_table_of_relative_paths_is_resolved_against_its_folder(digits_folder, tmp_path):
    frame = read_table(digits_folder)
    table = pd.DataFrame({"file": [str(Path(p).relative_to(digits_folder.parent)) for p in frame["image"]],
                          "digit": frame["label"]})
    table.to_csv(digits_folder.parent / "labels.csv", index=False)
    read = read_table(digits_folder.parent / "labels.csv")
    assert read["file"].tolist() == frame["image"].tolist()
    assert infer_schema(read)["file"].kind == "image"


def test_a_npz_of_arrays_reads_as_images_in_the_cache(tmp_path, image_cache):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "digits.npz", X=digits.images[:50] / 16.0, y=digits.target[:50])
    frame = read_table(tmp_path / "digits.npz")
    assert list(frame.columns) == ["image", "label"] and frame["label"].tolist() == digits.target[:50].tolist()
    assert all(str(p).startswith(str(image_cache)) for p in frame["image"])
    pixels = images.load_pixels(frame["image"], 8, 1)
    assert np.abs(pixels / 255 - digits.images[:50].reshape(50, -1) / 16).max() < 0.01  # round trip, uint8


def test_a_npz_without_images_or_with_wrong_labels_is_refused(tmp_path):
    np.savez(tmp_path / "names.npz", X=np.array(["a", "b"]))
    with pytest.raises(DataError, match="no array of images or sequences"):
        read_table(tmp_path / "names.npz")
    np.savez(tmp_path / "flat.npz", X=np.arange(20.0).reshape(5, 4), y=np.arange(5))  # numeric sequences
    assert read_table(tmp_path / "flat.npz").columns.tolist() == ["x0", "x1", "x2", "x3", "label"]
    np.savez(tmp_path / "wrong.npz", X=np.zeros((5, 4, 4)), y=np.zeros(3))
    with pytest.raises(DataError, match="3 labels for 5 images"):
        read_table(tmp_path / "wrong.npz")


def test_the_size_is_chosen_from_the_images_and_colour_is_detected(tmp_path):
    from PIL import Image

    for i, side in enumerate([20, 24, 30]):
        Image.new("RGB", (side, side + 10), (i * 50, 0, 0)).save(tmp_path / f"{i}.png")
    Image.new("L", (200, 300)).save(tmp_path / "big.png")
    side, channels, why = images.choose_size(pd.Series(sorted(map(str, tmp_path.glob("*.png")))))
    assert (side, channels) == (27, 3) and "median shorter side" in why and "colour" in why
    side, _, why = images.choose_size(pd.Series([str(tmp_path / "big.png")]))
    assert side == 64 and "capped at 64" in why


def test_pixels_are_decoded_once_then_read_from_the_cache(digits_folder, monkeypatch):
    paths = read_table(digits_folder)["image"].head(20)
    first = images.load_pixels(paths, 12, 1)
    assert first.shape == (20, 144) and 0 <= first.min() and first.max() <= 255

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("PIL.Image.open", no_decoding)
    assert np.array_equal(images.load_pixels(paths, 12, 1), first)


def test_missing_and_corrupt_images_are_named(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"bad\.png is not a readable image"):
        images.load_pixels(pd.Series([str(tmp_path / "bad.png")]), 8, 1)
    with pytest.raises(DataError, match=r"gone\.png cannot be read"):
        images.load_pixels(pd.Series([str(tmp_path / "gone.png")]), 8, 1)
    bad = images.unreadable(pd.Series([str(tmp_path / "bad.png"), str(tmp_path / "gone.png")]))
    assert bad[0].startswith("not a readable image") and bad[1] == "file not found"


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="holds no image files"):
        read_table(tmp_path)


def test_image_shape_from_the_number_of_pixels():
    assert images.image_shape(64) == (1, 8, 8) and images.image_shape(3 * 28 * 28) == (3, 28, 28)
    with pytest.raises(ValueError):
        images.image_shape(10)


def test_the_audit_finds_copied_blank_and_odd_images(digits_folder, tmp_path):
    import shutil

    from PIL import Image

    import trainwright

    photos = tmp_path / "photos"
    shutil.copytree(digits_folder, photos)
    first = sorted((photos / "3").glob("*.png"))[0]
    shutil.copy(first, photos / "5" / "copy-of-a-three.png")
    Image.new("L", (8, 8), 0).save(photos / "7" / "blank.png")
    Image.new("L", (40, 8), 128).save(photos / "7" / "stretched.png")
    Image.new("RGB", (8, 8), (200, 30, 30)).save(photos / "7" / "red.png")
    report = trainwright.audit(str(photos), target="label")
    by_check = {f.check: f for f in report.findings}
    assert by_check["duplicate_images"].count == 1 and by_check["duplicate_images"].column == "image"
    assert by_check["near_constant_images"].count == 3  # the blank, the flat grey stretched and the red one
    assert by_check["mixed_image_channels"].details["modes"] == ["L", "RGB"]
    assert by_check["odd_image_sizes"].count == 1
    assert "identifier_column" not in by_check  # a path per row is not an identifier

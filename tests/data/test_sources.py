import pandas as pd
import pytest

from trainwright.data.sources import file_sha256, read_table
from trainwright.errors import DataError, DataFileNotFoundError


@pytest.fixture()
def frame(penguins_csv):
    return pd.read_csv(penguins_csv)


def test_reads_csv_parquet_jsonl_alike(tmp_path, frame):
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_json(tmp_path / "p.jsonl", orient="records", lines=True)
    frame.to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    for name in ("p.parquet", "p.jsonl", "p.tsv", "semi.csv"):
        got = read_table(tmp_path / name)
        assert got.shape == frame.shape, name
        assert list(got.columns) == list(frame.columns)
        assert got["species"].tolist() == frame["species"].tolist()


def test_missing_file_names_file_and_neighbours(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    with pytest.raises(DataFileNotFoundError, match=r"dta.csv: no such file\. Data files in .*: data.csv"):
        read_table(tmp_path / "dta.csv")


def test_empty_and_header_only_and_unknown_format(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "x.xlsx").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unknown format '\.xlsx'"):
        read_table(tmp_path / "x.xlsx")


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b'a,b\n1,"unterminated\n')
    with pytest.raises(DataError, match="could not be read as csv"):
        read_table(tmp_path / "bad.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="could not be read as parquet"):
        read_table(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="the folder holds no image files"):  # a folder is read as images
        read_table(tmp_path)


def test_sha256_is_content_hash(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    assert file_sha256(tmp_path / "a.csv") == file_sha256(tmp_path / "b.csv")
    (tmp_path / "b.csv").write_text("x\n2\n")
    assert file_sha256(tmp_path / "a.csv") != file_sha256(tmp_path / "b.csv")

"""The Parquet lake under curated/: Snappy Parquet in Hive-style partitions, written with awswrangler."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import awswrangler as wr
import pyarrow as pa
import pyarrow.parquet as pq

from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.domain.partitions import escape_value, split_partitions


class LakeWriter:
    def __init__(
        self,
        boto3_session: Any,
        bucket: str,
        prefix: str = "curated/",
        *,
        concurrency: int = 16,
        store: ObjectStore | None = None,
    ) -> None:
        self._session = boto3_session
        self._bucket = bucket
        self._prefix = prefix
        self._store = store
        self._root = f"s3://{bucket}/{prefix}"
        self._concurrency = max(1, concurrency)

    def dataset_path(self, dataset: str) -> str:
        return f"{self._root}{dataset}/"

    def write(self, table: pa.Table, dataset: str, partition_cols: Sequence[str], file_stem: str) -> list[str]:
        """One file per partition, named after the source: a re-delivered source overwrites, never appends twice.

        awswrangler's dataset mode always adds a random suffix to file names, which would make a retry
        duplicate rows; so partitions are cut here and each is written as a plain awswrangler Parquet file.
        """
        parts = [
            (f"{self.dataset_path(dataset)}{path}/{file_stem}.snappy.parquet", rows)
            for path, rows in split_partitions(table, partition_cols)
        ]
        if not parts:
            return []
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(parts)), thread_name_prefix="lake") as pool:
            return list(pool.map(lambda part: self._write_file(*part), parts))

    def replace_partition(
        self, table: pa.Table, dataset: str, partition: Mapping[str, str], file_name: str, *, order: str
    ) -> tuple[str, bool]:
        """Make `table` the whole content of one partition (one fixed file name), unless a newer input already
        did: a re-upload replaces the partition instead of adding to it. Returns (path, replaced)."""
        if self._store is None:
            raise RuntimeError("LakeWriter needs an ObjectStore to replace partitions")
        path = "/".join(f"{name}={escape_value(value)}" for name, value in partition.items())
        key = f"{self._prefix}{dataset}/{path}/{file_name}"
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy", coerce_timestamps="us")
        replaced = self._store.put_if_newer(
            self._bucket, key, sink.getvalue(), "application/vnd.apache.parquet", order=order
        )
        return f"s3://{self._bucket}/{key}", replaced

    def _write_file(self, path: str, rows: pa.Table) -> str:
        wr.s3.to_parquet(
            df=rows.to_pandas(types_mapper=_nullable_types, timestamp_as_object=False),
            path=path,
            compression="snappy",
            index=False,
            use_threads=False,
            boto3_session=self._session,
            pyarrow_additional_kwargs={"coerce_timestamps": "us", "allow_truncated_timestamps": False},
        )
        return path


def _nullable_types(arrow_type: pa.DataType) -> Any:
    """Keep integers integral through pandas (no float64 for columns that could hold nulls)."""
    import pandas as pd

    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    return None

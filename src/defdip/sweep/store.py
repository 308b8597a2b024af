"""Chunk files of a sweep on disk: hashing, writing atomically, resume detection, reading back.

The storage stage of :mod:`defdip.io.sweep_folder`. Each chunk is ``results/chunk-NNNNN.nc`` (netCDF,
dims ``run x time``), written under a temporary name and renamed into place; its attrs
carry the SHA-256 of the sample rows it was computed from, its run range and the SHA-256 of its
data, so a resumed sweep keeps only the chunks that match and read back whole
(:func:`chunk_fault`). :func:`open_results` reopens all of them. Nothing here runs a model.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.core.errors import DefdipError, InputError
from defdip.core.processes import deferred_interrupts

RESULTS_DIR = "results"


HASH_ROWS = 4096  # rows hashed at a time: the same digest as the whole table's bytes, without its copy


def table_hash(table: pd.DataFrame) -> str:
    """SHA-256 of sample rows: run ids, column names and the exact float bytes (row-major).

    Fed a block of rows at a time, which gives the digest of the whole table's bytes (resumed
    folders keep matching) without two copies of a table of 200,000 runs.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(list(table.columns)).encode())
    digest.update(np.ascontiguousarray(table.index.to_numpy(np.int64)).tobytes())
    values = table.to_numpy(np.float64)
    for start in range(0, len(values), HASH_ROWS):
        digest.update(np.ascontiguousarray(values[start:start + HASH_ROWS]))
    return digest.hexdigest()


def netcdf_engine() -> str:
    """xarray's netCDF backend: h5netcdf (needs h5py), else netCDF4, whichever is installed."""
    import importlib.util

    if importlib.util.find_spec("h5py") is not None:
        return "h5netcdf"
    if importlib.util.find_spec("netCDF4") is not None:
        return "netcdf4"
    raise DefdipError("writing sweep results needs h5py (for h5netcdf) or netCDF4; pip install h5py")


def open_chunk(path: Path):
    """A chunk file as a lazy Dataset: slices are read from disk only when asked for."""
    import xarray as xr

    return xr.open_dataset(path, engine=netcdf_engine(), cache=False)


def chunk_path(folder: Path, number: int) -> Path:
    return folder / RESULTS_DIR / f"chunk-{number:05d}.nc"


def data_hash(runs, time, data: dict) -> str:
    """SHA-256 of a chunk's contents: run ids, times, and each variable's values (by name).

    Values are hashed as float64 with every NaN made the same NaN, so the digest of the arrays
    written equals that of the arrays read back.
    """
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(np.asarray(runs, np.int64)).tobytes())
    digest.update(np.ascontiguousarray(np.asarray(time, np.float64)).tobytes())
    for name in sorted(data):
        values = np.asarray(data[name], np.float64)
        digest.update(json.dumps([name, list(values.shape)]).encode())
        digest.update(np.ascontiguousarray(np.where(np.isnan(values), np.nan, values)).tobytes())
    return digest.hexdigest()


def write_chunk(path: Path, result: dict, attrs: dict) -> None:
    """Write one chunk as netCDF (h5netcdf), under a temporary name renamed into place.

    The attrs gain ``data_sha256`` (:func:`data_hash`), which :func:`chunk_fault` checks.
    """
    import xarray as xr

    data = {name: (("run", "time"), values) for name, values in result["data"].items()}
    checksum = data_hash(result["runs"], result["time"], result["data"])
    ds = xr.Dataset(data, coords={"run": result["runs"], "time": result["time"]},
                    attrs={**attrs, "data_sha256": checksum})
    write_netcdf(ds, path)


def write_netcdf(ds, path: Path) -> None:
    """Write the Dataset ``ds`` to ``path`` under a temporary name renamed into place.

    With h5netcdf the file is built in memory and then written in one plain write: a full disk
    is then an ordinary ``OSError`` (HDF5's own failed close, on a full disk, crashed the
    interpreter when it exited). Ctrl-C waits for the write to end; the temporary file is removed
    whatever fails.
    """
    import io

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    engine = netcdf_engine()
    try:
        with deferred_interrupts(), _local_locks():
            if engine == "h5netcdf":
                buffer = io.BytesIO()
                ds.to_netcdf(buffer, engine=engine)
                tmp.write_bytes(buffer.getbuffer())
            else:
                ds.to_netcdf(tmp, engine=engine)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _local_locks():
    """Inside a Dask client, xarray would lock an in-memory file with a cluster-wide lock named after
    the object (which the scheduler cannot find); this process's own locks are the right ones."""
    import contextlib

    try:
        import dask
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def chunk_fault(path: Path, sample_hash: str, start: int, stop: int, outputs) -> str | None:
    """Why an existing chunk file cannot be kept on resume, or ``None`` if it can.

    It must read, come from the expected sample rows (``sample_hash``) and run range
    ``[start, stop)``, hold every output, and its data must match its ``data_sha256``.
    """
    try:
        with open_chunk(path) as ds:
            attrs = ds.attrs
            if attrs.get("sample_sha256") != sample_hash:
                return "computed from other sample rows"
            if (_integer(attrs.get("run_start")), _integer(attrs.get("run_stop"))) != (start, stop):
                return f"holds another run range (the plan's is {start}-{stop - 1})"
            if not all(n in ds for n in outputs):
                return "lacks an output"
            if "data_sha256" not in attrs:
                return "no data checksum: written by an earlier version"
            data = {name: ds[name].values for name in ds.data_vars}
            if data_hash(ds["run"].values, ds["time"].values, data) != attrs.get("data_sha256"):
                return "its data do not match their checksum"
    except Exception:  # unreadable: a chunk from a crashed writer, or damaged
        return "unreadable"
    return None


def _integer(value):
    return None if value is None else int(value)


def open_results(folder) -> "xarray.Dataset":  # noqa: F821 - lazy import
    """All runs of a finished (or partial) sweep folder as one lazy Dataset (dims run x time)."""
    import xarray as xr

    files = sorted((Path(folder) / RESULTS_DIR).glob("chunk-*.nc"))
    if not files:
        raise InputError(f"{folder}: no {RESULTS_DIR}/chunk-*.nc files; is it a sweep folder?")
    return xr.open_mfdataset(files, engine=netcdf_engine(), combine="nested", concat_dim="run")


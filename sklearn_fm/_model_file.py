"""The model file format: arrays and JSON in a zip archive, no pickle.

A model file is a zip archive holding ``metadata.json`` (the format version,
the estimator's class and parameters, its scalar attributes) and one ``.npy``
file per array, read with ``allow_pickle=False``. Reading therefore never
executes code from the file. Every member carries a CRC-32 that is checked as
it is read. This module writes and reads the members; ``_persistence`` turns
them back into a checked estimator.
"""

import contextlib
import errno
import io
import json
import os
import queue
import secrets
import stat
import threading
import time
import zipfile
from numbers import Integral, Real

import numpy as np

from ._solvers import SolverSpec
from ._version import __version__

FORMAT = "sklearn_fm"
# Raise when the layout changes; load refuses versions it does not know.
# Version 2 added batch_size_, early_stopping_, penalty_scales_ and the
# regressor's target standardisation; version 3 stores the optimizer state
# as Keras' optimizer variables, with the solver they belong to; version 4
# holds a multiclass coef_ and factors_ class first, as (n_classes,
# n_features) and (n_classes, n_features, k); version 5 adds the parameter
# categorical_features with the categorical encoding, and the field-aware
# estimators with their fields_; version 6 adds n_samples_seen_ and the
# learning-rate schedule's count of epochs, which partial_fit continues;
# version 7 the unit of the sample weights, which partial_fit keeps;
# version 8 alpha_factors_, the factor penalty alpha_factors='auto' chose,
# and the residual scale of the last epoch, which partial_fit continues;
# version 9 learning_rate_init_ and init_std_, which 'auto' chose.
# Files of versions 1 (sklearn_fm 0.1.0) to 8 still load.
FORMAT_VERSION = 9
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


def _json_scalar(value, what):
    """``value`` as a JSON scalar (NumPy scalars too), or a ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, Integral, Real)):
        return value
    raise ValueError(
        f"{what} is {value!r}, which the safe format cannot store (it holds numbers, "
        "strings, booleans and None). Use pickle or joblib for this model."
    )


def _labels(values, what):
    """Labels (``classes_``, ``feature_names_in_``) as a JSON list and a dtype."""
    values = np.asarray(values)
    if values.dtype.kind not in "biufUO":
        raise ValueError(f"{what} of dtype {values.dtype} cannot be stored in the safe format.")
    return {"dtype": values.dtype.str, "values": [_json_scalar(v, what) for v in values.tolist()]}


# The JSON types the values of labels of each dtype kind are stored as
# (``type`` exactly: JSON's true is no integer label).
_LABEL_TYPES = {
    "b": (bool,),
    "i": (int,),
    "u": (int,),
    "f": (int, float),
    "U": (str,),
    "O": (bool, int, float, str),
}
# Room beyond the longest string label that a stored string dtype may declare
# (NumPy keeps the width of the array the labels came from).
_SPARE_LABEL_CHARACTERS = 256


def from_labels(labels):
    """The array of labels stored by ``_labels``; a ValueError unless the
    values are scalars of the dtype's kind that it holds exactly."""
    dtype, values = np.dtype(labels["dtype"]), labels["values"]
    if dtype.kind not in _LABEL_TYPES or not isinstance(values, list):
        raise ValueError(f"labels of dtype {dtype}")
    if not all(type(value) in _LABEL_TYPES[dtype.kind] for value in values):
        raise ValueError(f"labels of dtype {dtype} hold values of another type")
    if dtype.kind == "U":
        # A declared width is memory for every label: no wider than the labels need.
        longest = max(map(len, values), default=0)
        if not longest <= dtype.itemsize // 4 <= longest + _SPARE_LABEL_CHARACTERS:
            raise ValueError(f"labels of dtype {dtype} do not fit its width")
    array = np.empty(len(values), dtype=dtype)
    array[:] = values
    if array.tolist() != values:  # cut or rounded to the dtype
        raise ValueError(f"labels of dtype {dtype} do not hold the values stored")
    return array


def is_binary_file(file, operation):
    """Whether ``file`` is a file object open to ``operation`` ("read" or
    "write") bytes: not a text file, with the method, and not one that says
    it is open only the other way."""
    able = getattr(file, {"read": "readable", "write": "writable"}[operation], None)
    return not (
        isinstance(file, io.TextIOBase)
        or not callable(getattr(file, operation, None))
        or callable(able) and not able()
    )


def write(estimator, file):
    """Write the fitted ``estimator`` to ``file`` (a path or a binary file);
    its ``save`` has checked that it is fitted and that its parameters
    describe it."""
    params = _stored_params(estimator)
    arrays = _stored_arrays(estimator)
    metadata = _metadata(estimator, params, arrays)
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        _replace_atomically(file, lambda opened: _write_archive(opened, metadata, arrays))
    elif not is_binary_file(file, "write"):
        raise TypeError(
            "save writes to a path or to a file object open for writing bytes (mode "
            f"'wb'); got {type(file).__name__}."
        )
    else:
        _write_archive(file, metadata, arrays)
        _end_where_written(file)


def _stored_params(estimator):
    """The estimator's parameters as JSON values, or a ValueError naming the
    one the safe format cannot store."""
    params = {}
    for name, value in estimator.get_params().items():
        if name == "random_state" and isinstance(value, np.random.RandomState):
            raise ValueError(
                "random_state is a RandomState instance, which the safe format cannot "
                "store; set it to an int or None before saving, or use pickle."
            )
        if name == "solver" and isinstance(value, dict):
            SolverSpec.of(value)  # valid: its config maps names to scalars
            config = {
                setting: _json_scalar(setting_value, f"The solver's setting {setting}")
                for setting, setting_value in value.get("config", {}).items()
            }
            value = {"class_name": value["class_name"], "config": config}
        elif name == "fields" and value is not None:
            labels = np.asarray(value).tolist()
            value = [_json_scalar(label, "A label of fields") for label in labels]
        elif name == "class_weight" and isinstance(value, dict):
            value = [[_json_scalar(k, "A class_weight key"), float(w)] for k, w in value.items()]
        else:
            value = _json_scalar(value, f"The parameter {name}")
        params[name] = value
    return params


def _stored_arrays(estimator):
    """The fitted estimator's arrays, by member name."""
    arrays = {
        "intercept_": np.asarray(estimator.intercept_, dtype=np.float64),
        "coef_": estimator.coef_,
        "factors_": estimator.factors_,
        "loss_curve_": np.asarray(estimator.loss_curve_, dtype=np.float64),
        "penalty_scales_": np.asarray(estimator.penalty_scales_, dtype=np.float64),
    }
    if hasattr(estimator, "fields_"):
        arrays["fields_"] = np.asarray(estimator.fields_, dtype=np.int64)
    if estimator.validation_scores_ is not None:
        arrays["validation_scores_"] = np.asarray(estimator.validation_scores_, dtype=np.float64)
    if estimator._optimizer_state is not None:
        for i, value in enumerate(estimator._optimizer_state.variables):
            arrays[f"optimizer_state_{i}"] = np.asarray(value)
    return arrays


def _optional_float(value):
    """A float attribute for JSON, which has no inf (best_loss_ is infinite
    when training diverged in its first epoch): its repr, or None."""
    return None if value is None else repr(float(value))


def _metadata(estimator, params, arrays):
    """``metadata.json``'s content: the format, the estimator's class,
    ``params``, its scalar attributes and labels, and the description of
    ``arrays``."""
    optimizer_state = estimator._optimizer_state
    counts = estimator._stream_counts()
    step_sizes = estimator._started_step_sizes()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_fm_version": __version__,
        "estimator": type(estimator).__name__,
        "params": params,
        "n_features_in_": int(estimator.n_features_in_),
        "n_iter_": int(estimator.n_iter_),
        "n_samples_seen_": (
            None if counts["n_samples_seen_"] is None else int(counts["n_samples_seen_"])
        ),
        "schedule_epochs": repr(float(counts["_schedule_epochs"])),
        "sample_weight_unit": _optional_float(counts["_sample_weight_unit"]),
        "residual_scale": float(counts["_residual_scale"]),
        "batch_size_": int(estimator.batch_size_),
        "early_stopping_": bool(estimator.early_stopping_),
        # Models unpickled from versions before 'auto' trained with alpha_factors.
        "alpha_factors_": float(getattr(estimator, "alpha_factors_", estimator.alpha_factors)),
        "learning_rate_init_": float(step_sizes.learning_rate_init),
        "init_std_": float(step_sizes.init_std),
        "best_loss_": _optional_float(estimator.best_loss_),
        "best_validation_score_": _optional_float(estimator.best_validation_score_),
        "optimizer_state": (
            None
            if optimizer_state is None
            else {
                "solver": optimizer_state.solver.serialize(),
                "n_arrays": len(optimizer_state.variables),
            }
        ),
        "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
    }
    if hasattr(estimator, "feature_names_in_"):
        metadata["feature_names_in_"] = _labels(estimator.feature_names_in_, "feature_names_in_")
    if hasattr(estimator, "classes_"):
        metadata["classes_"] = _labels(estimator.classes_, "classes_")
    if estimator.is_categorical_ is not None:
        metadata["is_categorical_"] = [bool(flag) for flag in estimator.is_categorical_]
        metadata["categories_"] = [
            _labels(categories, "categories_") for categories in estimator.categories_
        ]
    if hasattr(estimator, "_y_train_std"):
        metadata["y_train_mean"] = float(estimator._y_train_mean)
        metadata["y_train_std"] = float(estimator._y_train_std)
    if getattr(estimator, "_y_seen", None) is not None:
        metadata["y_seen"] = [float(value) for value in estimator._y_seen]
    return metadata


def _end_where_written(file):
    """Cut a file object that can seek at the end of the archive just written.

    A zip archive is read from its end: the rest of an earlier, longer
    content (a reused BytesIO, a file opened with ``'r+b'``) made the file
    one that ``load`` refuses.
    """
    seekable, truncate = getattr(file, "seekable", None), getattr(file, "truncate", None)
    if callable(seekable) and callable(truncate) and seekable():
        try:
            truncate()
        except OSError:  # io.UnsupportedOperation too: the file cannot be cut
            pass


def _write_archive(file, metadata, arrays):
    # The arrays are stored uncompressed: deflate spent 90% of a wide model's
    # save (19 of 21 s for 1M x 32 factors) to shrink random floats by 8%.
    # No new format version: every reader of version 6 accepts stored members
    # (older files, deflated, still load), and the members' contents are unchanged.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata, indent=1))
        for name, array in arrays.items():
            _write_npy(archive, f"{name}.npy", array)


# Arrays are written in chunks of this many bytes: zipfile's CRC-32 of one
# then runs while a _WritingBehind file writes the one before.
_WRITE_CHUNK_BYTES = 1 << 24


def _write_npy(archive, name, array):
    """Write ``array`` to the stored member ``name`` as ``np.save`` would,
    straight from its memory: without a copy of it, which cost a wide model's
    save a fifth of its time and doubled its peak memory."""
    array = np.asarray(array, order="C")  # not ascontiguousarray, which makes 0-d arrays 1-d
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = header.tell() + array.nbytes  # lets zipfile choose ZIP64 when needed
    data = array.reshape(-1).view(np.uint8)
    with archive.open(info, "w") as member:
        member.write(header.getbuffer())
        for start in range(0, data.nbytes, _WRITE_CHUNK_BYTES):
            member.write(data[start : start + _WRITE_CHUNK_BYTES])


def _replace_atomically(path, write_to):
    """Write a file with ``write_to(binary_file)`` and put it at ``path`` in one step.

    The new file is written beside ``path``, flushed to disk, then renamed
    over it: a full disk, a crash or a signal during the write leaves the
    previous file whole, never a truncated one. The file gets the mode
    ``open`` would give it: the previous file's, or the one the umask allows.
    The writes run in a thread of their own (``_WritingBehind``) and the
    flush alongside them (``_FlushingBehind``). A path that names something
    other than a file (a device such as ``/dev/null``, a pipe) is written
    to, as ``open`` would, not replaced by a file.
    """
    path = os.path.realpath(os.fsdecode(path))  # a symbolic link keeps pointing at the file
    directory, name = os.path.split(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as opened:
            write_to(opened)
        return
    # At most 64 bytes of the name: the temporary one must stay within the
    # 255 bytes a file name may have.
    stem = os.fsdecode(os.fsencode(name)[:64])
    temporary = os.path.join(directory, f".{stem}.{secrets.token_hex(8)}.tmp")
    # One try around the creation and the rename too: a KeyboardInterrupt
    # lands between any two steps, also just after either.
    try:
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except (FileNotFoundError, NotADirectoryError) as error:  # named after the directory
            raise _renamed(error, directory) from None
        except OSError as error:  # named after the file asked for, not the hidden one
            raise _renamed(error, path) from None
        with os.fdopen(descriptor, "wb") as opened:
            if os.path.exists(path):
                os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
            with _FlushingBehind(opened.fileno()), _WritingBehind(opened) as writing:
                write_to(writing)
            opened.flush()
            os.fsync(opened.fileno())
        try:
            os.replace(temporary, path)
        except OSError as error:  # a name too long, say: named after the file asked for
            raise _renamed(error, path) from None
    except BaseException:
        # Not made yet (its directory may not even be one), or renamed already:
        # the error to report is the one that brought us here.
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _renamed(error, filename):
    """The OSError ``error`` naming ``filename`` instead of the temporary file."""
    return type(error)(error.errno, error.strerror, filename)


class _WritingBehind:
    """A binary file, for ``zipfile``, whose writes a thread carries out in
    order while the caller goes on: the CRC-32 that ``zipfile`` computes of
    each chunk then runs alongside the writing of the one before, where the
    two took a wide model's save one after the other.

    It holds each buffer until it is written and counts the position itself;
    ``seek`` and ``flush`` wait for the writes before them. An error of a
    write is raised by the next call, and on exit.
    """

    def __init__(self, file):
        self._file = file
        self._position = file.tell()
        self._pending = queue.Queue()
        self._error = None
        self._thread = threading.Thread(target=self._write_pending, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._pending.put(None)
        self._thread.join()
        if exc_info[0] is None:
            self._raise_error()

    def _write_pending(self):
        while (buffer := self._pending.get()) is not None:
            if self._error is None:  # after an error, what follows is dropped
                try:
                    self._file.write(buffer)
                except BaseException as error:  # raised in the caller's thread
                    self._error = error
            self._pending.task_done()

    def _raise_error(self):
        if self._error is not None:
            raise self._error

    def write(self, data):
        self._raise_error()
        buffer = memoryview(data).cast("B")
        self._pending.put(buffer)
        self._position += buffer.nbytes
        return buffer.nbytes

    def tell(self):
        return self._position

    def seek(self, offset, whence=os.SEEK_SET):
        self.flush()
        self._position = self._file.seek(offset, whence)
        return self._position

    def flush(self):
        self._pending.join()
        self._raise_error()
        self._file.flush()


class _FlushingBehind:
    """A context in which a thread writes a file's dirty pages to disk every
    ``interval`` seconds, while the caller writes more.

    The disk then works alongside the writing, and the final ``fsync`` waits
    only for the last pages: a wide model's save took 1.4 times as long
    when the whole file was flushed at its end. An error of the flush is
    raised on exit, as the final ``fsync`` might no longer report it.
    """

    def __init__(self, descriptor, interval=0.02):
        self._descriptor, self._interval = descriptor, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush, daemon=True)
        self._error = None

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def _flush(self):
        sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
        while not self._stop.wait(self._interval):
            try:
                sync(self._descriptor)
            except OSError as error:
                self._error = error
                return


# The arrays a model file may hold, besides the optimizer state's.
_ARRAYS = (
    "intercept_",
    "coef_",
    "factors_",
    "fields_",
    "loss_curve_",
    "penalty_scales_",
    "validation_scores_",
)
# Room for an .npy file's header, beyond its data.
_NPY_HEADER_BYTES = 4096
# The metadata grows with feature names and class labels; a bound keeps a
# forged member from inflating without end. Deflate shrinks it about 3 to 10
# times (JSON of names and numbers); a forged member of repeated bytes, over
# 1,000 times.
_METADATA_BYTES = 1 << 30
_METADATA_INFLATION = 64
_METADATA_SMALL_BYTES = 1 << 20  # any ratio


def read(file, name):
    """The metadata and arrays of the model file ``file``, called ``name`` in errors."""
    try:
        with zipfile.ZipFile(file) as archive:
            members = {info.filename: info for info in archive.infolist()}
            info = members.get("metadata.json")
            _check_member(info, "metadata.json", _METADATA_BYTES)
            inflated = max(_METADATA_SMALL_BYTES, _METADATA_INFLATION * info.compress_size)
            if info.file_size > inflated:
                raise ValueError(
                    f"metadata.json inflates from {info.compress_size} to {info.file_size} "
                    "bytes, more than JSON does"
                )
            metadata = json.loads(archive.read("metadata.json"))
            if (
                isinstance(metadata, dict)
                and metadata.get("format") == FORMAT
                and metadata.get("format_version") in READABLE_VERSIONS
            ):
                return metadata, _read_arrays(archive, members, metadata)
    except Exception as error:  # whatever parsing a damaged file raises
        raise unreadable(name, error) from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{name} is a zip archive, but not an sklearn_fm model file.")
    version = metadata.get("format_version")
    newer = isinstance(version, int) and version > FORMAT_VERSION
    raise ValueError(
        f"{name} was written by sklearn_fm {metadata.get('sklearn_fm_version')} in "
        f"format version {version!r}, but this sklearn_fm ({__version__}) reads format "
        f"versions up to {FORMAT_VERSION}." + (" Upgrade sklearn_fm to load it." if newer else "")
    )


def _read_arrays(archive, members, metadata):
    """The arrays the metadata declares, each checked against its declared
    dtype and shape before it is decompressed: a forged file cannot make
    reading allocate more than the model it describes."""
    declared = metadata["arrays"]
    known = {*_ARRAYS, *optimizer_state_names(metadata)}
    unknown = set(declared) - known
    if unknown:
        raise ValueError(f"it declares arrays the format does not have: {sorted(unknown)}")
    expected_members = {"metadata.json", *(f"{array}.npy" for array in declared)}
    if set(members) != expected_members:
        raise ValueError(
            f"it holds the members {sorted(members)}, but its metadata describes "
            f"{sorted(expected_members)}"
        )
    arrays = {}
    for array, spec in declared.items():
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        if dtype.kind not in "fi" or dtype.itemsize > 8:
            raise ValueError(f"the array {array} has dtype {dtype}, not a real number type")
        if not all(type(n) is int and n >= 0 for n in shape):
            raise ValueError(f"the array {array} has the shape {shape}")
        size = dtype.itemsize * int(np.prod(shape, dtype=np.float64))
        _check_member(members[f"{array}.npy"], f"{array}.npy", size + _NPY_HEADER_BYTES)
        # Streamed: reading a member whole first holds a second copy of it and
        # took several times as long for 1M x 32 factors (0.8 to 2 s, not 0.3 s).
        with archive.open(f"{array}.npy") as member:
            arrays[array] = np.load(member, allow_pickle=False)
            # Reading to the end checks the CRC-32 of the whole member.
            if member.read(1):
                raise ValueError(f"{array}.npy holds more than its array")
    return arrays


def optimizer_state_names(metadata):
    """The names of the optimizer state's arrays, in order (none without a
    state). Format versions 1 and 2 stored their number, 3 stores it with
    the solver."""
    stored = metadata["optimizer_state"]
    n_arrays = 0 if stored is None else stored if isinstance(stored, int) else stored["n_arrays"]
    # Checked before the names are made: a forged count of billions would
    # take minutes and gigabytes to name.
    if not (type(n_arrays) is int and 0 <= n_arrays <= len(metadata["arrays"])):
        raise ValueError(f"the optimizer state's number of arrays is {n_arrays!r}")
    return [f"optimizer_state_{i}" for i in range(n_arrays)]


def _check_member(info, name, max_bytes):
    """Refuse a member that is missing, compressed other than as ``save``
    writes (stored, or deflate, whose ratio is bounded), or larger than
    ``max_bytes``."""
    if info is None:
        raise ValueError(f"it has no {name}")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(
            f"{name} is compressed with method {info.compress_type}, not stored or deflated"
        )
    if info.file_size > max_bytes:
        raise ValueError(
            f"{name} declares {info.file_size} bytes, more than the {max_bytes} its metadata allows"
        )


def unreadable(name, error):
    """The ValueError of a file that is damaged or no model file."""
    return ValueError(
        f"{name} could not be read as an sklearn_fm model file: it is not one, or "
        f"it is corrupted or truncated ({type(error).__name__}: {error})."
    )

"""A restricted unpickler for the dataset pickles (UCF101-24 ``pyannot.pkl``, ACT's
``UCF101v2-GT.pkl`` / ``JHMDB-GT.pkl``), and checks for the values they hold.

A pickle can call any importable function while it loads, so an ordinary ``pickle.load`` of a
file from the internet runs whatever the file asks for. :class:`SafeUnpickler` admits only the
globals that plain containers, numbers, strings and NumPy arrays need, and refuses anything else
with a :class:`FormatError` naming the file and the refused global, before it is called.

Admitted globals, and why each is needed:

- ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` with the
  class ``numpy.ndarray``: how every NumPy version pickles an array (protocols 0-4).
- ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer``: arrays at protocol 5.
- ``numpy.dtype``: the element type of arrays and scalars.
- ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar``: NumPy scalars, such as
  the ``np.str_`` video names and ``np.uint8`` frame counts of ``pyannot.pkl``.
- ``_codecs.encode``, only as ``encode(text, 'latin1')``: Python 3 writes ``bytes`` (the raw data
  of an array) this way at protocols 0-2; any other codec is refused.
- ``builtins`` (Python 2: ``__builtin__``) ``set``, ``frozenset`` and ``complex``: containers
  and numbers that have no opcode of their own before protocol 4; ``bytes`` only called with no
  argument: how Python 3 writes an empty ``bytes`` (the data of an empty array) at protocols 0-2
  (``bytes(n)`` would allocate n bytes that the file does not hold).

NumPy's own pickle support trusts its input: a dtype's pickled state sets internal flags and
sizes (a corrupt one made the interpreter crash in our fuzzing), and ``ndarray(shape)`` allocates
any size. So none of the NumPy names above is handed out as is: ``numpy.dtype`` builds a dtype
only from a plain type code (bool, integers, floats, complex, byte and unicode strings; no
objects, records or sub-arrays) and a byte order, ignoring the rest of the state once checked;
``numpy.ndarray`` is a token only ``_reconstruct`` accepts; arrays get their shape and data from
the file through a checked ``__setstate__`` (the data must be exactly as long as the shape says),
so an array's size is bounded by the file's; scalars and ``_frombuffer`` check their data's
length against the dtype and shape the same way. Arrays come back as a subclass of
``numpy.ndarray`` (``np.asarray`` gives the plain class).

``copyreg._reconstructor`` is not admitted: it exists to rebuild instances of arbitrary Python
classes (protocols 0 and 1), which plain containers and arrays never need. Pickles written by
Python 2 are read with ``encoding='latin1'``, which turns Python 2 ``str`` (and the raw bytes of
arrays written by Python 2) into text NumPy knows how to read.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.errors import FormatError

#: The most frames a video in a dataset pickle may have (11 hours at 25 fps); more means the file
#: is corrupt, and would make an import mark that many frames labeled.
MAX_FRAMES = 1_000_000

_TYPE_CODE = re.compile(r"[biufcSU]\d{1,4}")
_BYTE_ORDERS = ("<", ">", "|", "=")


def _refuse(message: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(message)


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pickle: accepted by ``_reconstruct``, not callable."""

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayToken()


class _Dtype:
    """What ``numpy.dtype(code, align, copy)`` gives inside a pickle: a checked stand-in whose
    ``__setstate__`` takes only the byte order from the state; :func:`_dtype_of` unwraps it."""

    def __init__(self, code: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(code, str) or not _TYPE_CODE.fullmatch(code):
            raise _refuse(f"dtype {code!r}: only plain numbers and strings are read")
        self.dtype = np.dtype(code)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise _refuse("dtype state: expected NumPy's (version 3 or 4, ...) tuple")
        order, subarray, names, fields, elsize = state[1:6]
        if order not in _BYTE_ORDERS or (subarray, names, fields) != (None, None, None):
            raise _refuse("dtype state: only plain dtypes (no records or sub-arrays) are read")
        if elsize not in (-1, self.dtype.itemsize) and self.dtype.kind in "SU":
            raise _refuse(f"dtype state: element size {elsize!r} for {self.dtype}")
        if order in "<>" and self.dtype.itemsize > 1 and self.dtype.kind != "S":
            self.dtype = self.dtype.newbyteorder(order)


def _dtype_of(value: Any) -> np.dtype:
    if not isinstance(value, _Dtype):
        raise _refuse(f"expected a dtype, got {type(value).__name__}")
    return value.dtype


def _raw(data: Any) -> bytes:
    if isinstance(data, str):  # Python 2 byte strings, decoded as latin1
        data = data.encode("latin-1")
    if not isinstance(data, (bytes, bytearray)):
        raise _refuse(f"array data: expected bytes, got {type(data).__name__}")
    return bytes(data)


def _checked(raw: bytes, dtype: np.dtype, count: int) -> bytes:
    """``raw`` must hold exactly ``count`` elements; unicode ones must be valid code points
    (NumPy builds a broken ``str`` from one that is not)."""
    if len(raw) != count * dtype.itemsize:
        raise _refuse(f"data: {len(raw)} bytes for {count} elements of {dtype}")
    if dtype.kind == "U" and raw:
        points = np.frombuffer(raw, dtype=np.dtype("u4").newbyteorder(dtype.byteorder))
        if int(points.max()) > 0x10FFFF:
            raise _refuse("unicode data: a code point above U+10FFFF")
    return raw


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > 32 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise _refuse(f"array shape {value!r}: expected a tuple of sizes")
    return value


class _Array(np.ndarray):
    """An array rebuilt from a pickle; its ``__setstate__`` checks the state first."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise _refuse("array state: expected (version, shape, dtype, fortran, data)")
        version, shape, dtype, fortran, data = state
        shape, dtype = _shape(shape), _dtype_of(dtype)
        data = _checked(_raw(data), dtype, math.prod(shape))
        super().__setstate__((version, shape, dtype, bool(fortran), data))


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not _NDARRAY:
        raise _refuse(f"_reconstruct of {subtype!r}: only numpy.ndarray")
    # The shape given here is a placeholder (0,); the real one comes with __setstate__.
    return np.ndarray.__new__(_Array, (0,), dtype=np.uint8)


def _scalar(dtype: Any, data: Any = None) -> Any:
    dtype = _dtype_of(dtype)
    raw = _checked(_raw(data), dtype, 1)
    return np.frombuffer(raw, dtype=dtype)[0]


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    dtype, shape = _dtype_of(dtype), _shape(shape)
    raw = _checked(_raw(buffer), dtype, math.prod(shape))
    if order not in ("C", "F"):
        raise _refuse(f"array order {order!r}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if not isinstance(text, str) or encoding.lower().replace("-", "").replace("_", "") not in (
        "latin1", "iso88591"
    ):
        raise _refuse(f"_codecs.encode(..., {encoding!r}): only latin1 is allowed")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise _refuse("bytes(...) with an argument: only bytes() is allowed")
    return b""


def _allowed() -> dict[tuple[str, str], Callable[..., Any] | _NdarrayToken]:
    table: dict[tuple[str, str], Callable[..., Any] | _NdarrayToken] = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _Dtype,
        ("_codecs", "encode"): _latin1_encode,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytes"): _empty_bytes,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        table[(f"{core}.multiarray", "scalar")] = _scalar
        table[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    return table


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only containers, numbers, strings and NumPy arrays."""

    def __init__(self, file: Any, source: str | Path) -> None:
        super().__init__(file, encoding="latin1")
        self.source = Path(source)
        self._table = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        key = ("builtins" if module == "__builtin__" else module, name)
        if key not in self._table:
            raise FormatError(self.source, f"refused to load the global '{module}.{name}': "
                                           "only containers, numbers, strings and NumPy arrays "
                                           "are read from a pickle")
        return self._table[key]

    def persistent_load(self, pid: Any) -> Any:
        raise FormatError(self.source, "refused a persistent reference: not a plain data pickle")


def load(path: str | Path) -> Any:
    """Read a data pickle with :class:`SafeUnpickler`; any problem is a FormatError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
    return loads(data, path)


def loads(data: bytes, source: str | Path) -> Any:
    """Unpickle ``data`` (read from ``source``) with :class:`SafeUnpickler`.

    The opcodes are walked first (pure Python, no objects built): a length field larger than the
    data that follows, which a corrupt file easily has, then fails here instead of making the C
    unpickler allocate it (in CPython 3.11 that path even reported a freed buffer still in use).
    """
    try:
        for opcode, _, _ in pickletools.genops(data):
            if opcode.name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                raise FormatError(source, f"refused the opcode {opcode.name}: out-of-band "
                                          "buffers are not read")
        return SafeUnpickler(io.BytesIO(data), source).load()
    except FormatError:
        raise
    except Exception as exc:  # a corrupt pickle fails in any way (incl. Recursion/MemoryError)
        detail = str(exc)[:200]
        raise FormatError(source, f"is not a readable pickle ({type(exc).__name__}: "
                                  f"{detail})") from exc


# ---------------------------------------------------------------------- checking loaded values
def whole(source: Path, where: str, value: Any, minimum: int = 0,
          maximum: int = 2**31 - 1) -> int:
    """A whole number (Python or NumPy integer, not bool) in ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FormatError(source, f"{where}: expected a whole number, got "
                                  f"{type(value).__name__}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise FormatError(source, f"{where}: {number} is outside [{minimum}, {maximum}]")
    return number


def text(source: Path, where: str, value: Any) -> str:
    """A non-empty string (``np.str_`` included) without control characters."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or not value.strip():
        raise FormatError(source, f"{where}: expected a non-empty string")
    if any(ord(c) < 32 for c in value):
        raise FormatError(source, f"{where}: {value!r} holds a control character")
    return str(value)


def table(source: Path, where: str, value: Any, columns: int) -> np.ndarray:
    """A finite numeric ``(n, columns)`` array with n >= 1, as float64."""
    if not isinstance(value, np.ndarray):
        raise FormatError(source, f"{where}: expected a NumPy array, got {type(value).__name__}")
    if value.dtype.kind not in "iuf":
        raise FormatError(source, f"{where}: expected numbers, got dtype {value.dtype}")
    if value.ndim != 2 or value.shape[1] != columns or value.shape[0] < 1:
        raise FormatError(source, f"{where}: expected shape (n, {columns}), got {value.shape}")
    with np.errstate(invalid="ignore"):  # a value that cannot be cast is refused just below
        result = np.asarray(value).astype(np.float64)  # before arithmetic: uint8 boxes wrap
    if not np.isfinite(result).all():
        raise FormatError(source, f"{where}: holds a value that is not a finite number")
    return result


__all__ = ["MAX_FRAMES", "SafeUnpickler", "load", "loads", "table", "text", "whole"]

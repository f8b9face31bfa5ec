"""The restricted unpickler: plain data and NumPy arrays load, anything else is refused before
it runs, and no corrupt pickle escapes as anything but a FormatError."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from halgui.core.errors import FormatError
from halgui.core.formats import safe_pickle
from tests.core.formats.pickle_fixtures import mutations

DATA = Path(__file__).resolve().parents[2] / "data"
EXCERPT = DATA / "ucf24_excerpt.pkl"


def _load_bytes(data: bytes, name: str = "x.pkl"):
    return safe_pickle.loads(data, name)


class _Plain:  # an instance of an arbitrary class: copyreg._reconstructor at protocols 0 and 1
    pass


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_pickle_that_runs_a_command_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"labels": [_System(f"echo pwned > {marker}")]}, protocol=2))
    with pytest.raises(FormatError) as caught:
        safe_pickle.load(evil)
    assert caught.value.path == evil
    assert str(caught.value).startswith(str(evil))
    assert f"'{os.system.__module__}.system'" in str(caught.value)  # posix.system on Linux
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(6))
def test_other_globals_are_refused_at_every_protocol(protocol):
    for payload, refused in [
        ((eval, ("1 + 1",)), r"(__builtin__|builtins)\.eval"),
        ((getattr, ("x", "upper")), r"(__builtin__|builtins)\.getattr"),
    ]:
        class Reducer:
            def __reduce__(self, payload=payload):
                return payload

        with pytest.raises(FormatError, match=refused):
            _load_bytes(pickle.dumps([Reducer()], protocol=protocol))
    refused = r"copy_?reg\._reconstructor" if protocol < 2 else r"test_pickles\._Plain"
    with pytest.raises(FormatError, match=refused):
        _load_bytes(pickle.dumps(_Plain(), protocol=protocol))
    with pytest.raises(FormatError, match="only bytes"):  # bytes(n) would allocate n bytes
        _load_bytes(b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x40\x85R.")


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_and_arrays_load_at_every_protocol(protocol):
    value = {
        "labels": ["a", "b"], "n": 3, "x": 1.5, "z": 2j, "t": (1, None, True), "b": b"\x00\xff",
        "s": {1, 2}, "f": frozenset({"q"}), "key": np.str_("Class/v_1"), "u8": np.uint8(200),
        "u16": np.uint16(300), "arrays": [np.arange(12, dtype=np.uint8).reshape(3, 4),
                                          np.linspace(0, 1, 10, dtype=np.float32).reshape(2, 5),
                                          np.zeros((0, 5)), np.asfortranarray(np.eye(3))],
    }
    loaded = _load_bytes(pickle.dumps(value, protocol=protocol))
    assert loaded.keys() == value.keys()
    for key in value:
        if key == "arrays":
            for a, b in zip(loaded[key], value[key], strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all()
        else:
            assert loaded[key] == value[key] and type(loaded[key]) is type(value[key])


def test_a_python2_pickle_loads_with_latin1():
    """Hand-assembled as Python 2 writes it: ``__builtin__``, ``numpy.core`` and the raw bytes of
    an array as a byte string (SHORT_BINSTRING), which only ``encoding='latin1'`` turns back."""
    raw = struct.pack("<2d", 1.5, -2.25)  # holds bytes >= 0x80
    ndarray = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
        b"(K\x01K\x02\x85cnumpy\ndtype\nU\x02f8K\x00K\x01\x87R"
        b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U" + bytes([len(raw)])
        + raw + b"tb"
    )
    data = (b"\x80\x02}(U\x06labelsc__builtin__\nset\n]U\x04caf\xe9a\x85RU\x05tubes" + ndarray
            + b"u.")
    loaded = _load_bytes(data)
    assert loaded["labels"] == {"café"}
    assert loaded["tubes"].tolist() == [1.5, -2.25]


def test_codecs_encode_only_for_latin1():
    assert _load_bytes(pickle.dumps(b"\x00\xe9", protocol=2)) == b"\x00\xe9"  # _codecs.encode
    bad = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib\x86R."
    with pytest.raises(FormatError, match="only latin1"):
        _load_bytes(bad)


def test_ndarray_cannot_be_called_directly():
    """``ndarray(shape)`` would allocate memory of any size without reading it from the file."""
    bad = b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x40\x85\x85R."
    with pytest.raises(FormatError, match="not a readable pickle"):
        _load_bytes(bad)


def test_the_real_excerpt_loads_like_pickle_does():
    with open(EXCERPT, "rb") as f:
        plain = pickle.load(f, encoding="latin1")
    safe = safe_pickle.load(EXCERPT)
    assert list(safe) == list(plain)
    for key in plain:
        assert int(safe[key]["numf"]) == int(plain[key]["numf"])
        for a, b in zip(safe[key]["annotations"], plain[key]["annotations"], strict=True):
            assert a["boxes"].dtype == b["boxes"].dtype and (a["boxes"] == b["boxes"]).all()


def test_unreadable_files_are_format_errors(tmp_path):
    with pytest.raises(FormatError, match="cannot be read"):
        safe_pickle.load(tmp_path / "missing.pkl")
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="not a readable pickle"):
        safe_pickle.load(empty)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(EXCERPT.read_bytes()))
def test_corrupt_pickles_load_or_raise_format_error(data):
    try:
        _load_bytes(data, "fuzz.pkl")
    except FormatError as exc:
        assert exc.path == Path("fuzz.pkl")


def test_numpy_state_is_checked_not_trusted():
    """Found by fuzzing: dtype flags from the file crashed the interpreter, and a unicode scalar
    with a code point past U+10FFFF made a str that raises SystemError when used."""
    good = pickle.dumps(np.str_("ab"), protocol=3)
    assert _load_bytes(good) == "ab"
    flags = good.replace(b"K\x04K\x08t", b"K\x04K\xf4t")  # the dtype state's flags
    assert flags != good and _load_bytes(flags) == "ab"  # ignored: only the byte order is used
    beyond = good.replace(b"a\x00\x00\x00", b"a\x00\x11\x00")  # U+110061
    assert beyond != good
    with pytest.raises(FormatError, match="U\\+10FFFF"):
        _load_bytes(beyond)
    record = pickle.dumps(np.zeros(2, dtype=[("a", "f4")]), protocol=3)
    with pytest.raises(FormatError, match="dtype"):
        _load_bytes(record)
    with pytest.raises(FormatError, match="dtype"):
        _load_bytes(pickle.dumps(np.array([None, 1], dtype=object), protocol=3))
    whole = pickle.dumps(np.arange(4, dtype=np.int32), protocol=3)
    i = whole.index(b"C\x10")  # SHORT_BINBYTES of the 16 data bytes
    short = whole[:i] + b"C\x0c" + whole[i + 2:i + 14] + whole[i + 18:]
    with pytest.raises(FormatError, match="12 bytes for 4 elements"):
        _load_bytes(short)

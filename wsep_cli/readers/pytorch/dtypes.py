"""torch's element types as wsep reads them, without importing torch.

Maps the names a ``torch.save`` pickle uses (legacy ``torch.FloatStorage`` classes and ``torch.float32``
dtype globals) to a :class:`DType`, and turns raw storage bytes into exact numpy values:
``bfloat16`` and the float8 formats become ``float32`` (every value is representable, so the upcast is
lossless), ``complex32`` becomes ``complex64``. Quantized and sub-byte types are listed but not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wsep_cli.readers.base import bf16_to_float32

__all__ = ["DType", "DTYPES", "STORAGE_DTYPES", "decode", "numpy_dtype"]


@dataclass(frozen=True)
class DType:
    """One torch element type.

    Args:
        name: torch's name without ``torch.`` (also what wsep reports), e.g. ``bfloat16``.
        raw: numpy type code used to read the bytes, without byte order, e.g. ``f4`` or ``u2``.
        itemsize: bytes per element.
        kind: ``native`` (numpy reads it as is), ``bf16``, ``f8`` (lookup table), ``c32``,
            ``quant`` (quantized integers, needs scale/zero point) or ``unsupported``.
    """

    name: str
    raw: str
    itemsize: int
    kind: str = "native"

    @property
    def loadable(self) -> bool:
        return self.kind in ("native", "bf16", "f8", "c32")

    def __setstate__(self, state: object) -> None:
        # A pickle's BUILD on the global torch.float32 would otherwise rewrite it for the whole process.
        from wsep_cli.readers.pytorch.inert import BadPickle

        raise BadPickle(f"BUILD sets attributes on the global torch.{self.name}; refused")


def _d(name: str, raw: str, itemsize: int, kind: str = "native") -> DType:
    return DType(name, raw, itemsize, kind)


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        _d("float64", "f8", 8),
        _d("float32", "f4", 4),
        _d("float16", "f2", 2),
        _d("bfloat16", "u2", 2, "bf16"),
        _d("int64", "i8", 8),
        _d("int32", "i4", 4),
        _d("int16", "i2", 2),
        _d("int8", "i1", 1),
        _d("uint8", "u1", 1),
        _d("uint16", "u2", 2),
        _d("uint32", "u4", 4),
        _d("uint64", "u8", 8),
        _d("bool", "b1", 1),
        _d("complex128", "c16", 16),
        _d("complex64", "c8", 8),
        _d("complex32", "f2", 4, "c32"),
        _d("float8_e4m3fn", "u1", 1, "f8"),
        _d("float8_e5m2", "u1", 1, "f8"),
        _d("float8_e4m3fnuz", "u1", 1, "f8"),
        _d("float8_e5m2fnuz", "u1", 1, "f8"),
        _d("float8_e8m0fnu", "u1", 1, "f8"),
        _d("float4_e2m1fn_x2", "u1", 1, "unsupported"),
        _d("qint8", "i1", 1, "quant"),
        _d("quint8", "u1", 1, "quant"),
        _d("qint32", "i4", 4, "quant"),
        _d("quint4x2", "u1", 1, "quant"),
        _d("quint2x4", "u1", 1, "quant"),
        _d("bcomplex32", "u2", 4, "unsupported"),
        *(_d(f"bits{b}", "u1", 1, "unsupported") for b in ("1x8", "2x4", "4x2", "8")),
        _d("bits16", "u2", 2, "unsupported"),
        *(_d(f"uint{i}", "u1", 1, "unsupported") for i in range(1, 8)),
        *(_d(f"int{i}", "i1", 1, "unsupported") for i in range(1, 8)),
    )
}

# torch's aliases (``torch.float`` pickles as ``torch.float32``, but be lenient)
_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
    "short": "int16", "cfloat": "complex64", "cdouble": "complex128", "chalf": "complex32",
}
for _alias, _target in _ALIASES.items():
    DTYPES.setdefault(_alias, DTYPES[_target])

# Legacy typed storage classes (``torch.FloatStorage``, also under ``torch.cuda``).
STORAGE_DTYPES: dict[str, DType] = {
    "DoubleStorage": DTYPES["float64"],
    "FloatStorage": DTYPES["float32"],
    "HalfStorage": DTYPES["float16"],
    "BFloat16Storage": DTYPES["bfloat16"],
    "LongStorage": DTYPES["int64"],
    "IntStorage": DTYPES["int32"],
    "ShortStorage": DTYPES["int16"],
    "CharStorage": DTYPES["int8"],
    "ByteStorage": DTYPES["uint8"],
    "BoolStorage": DTYPES["bool"],
    "ComplexFloatStorage": DTYPES["complex64"],
    "ComplexDoubleStorage": DTYPES["complex128"],
    "QInt8Storage": DTYPES["qint8"],
    "QUInt8Storage": DTYPES["quint8"],
    "QInt32Storage": DTYPES["qint32"],
    "QUInt4x2Storage": DTYPES["quint4x2"],
    "QUInt2x4Storage": DTYPES["quint2x4"],
    # ``torch.UntypedStorage`` / ``torch.storage.UntypedStorage``: raw bytes
    "UntypedStorage": DTYPES["uint8"],
}


@lru_cache(maxsize=None)
def _float8_table(name: str) -> np.ndarray:
    """float32 value of each of the 256 bit patterns of a float8 format.

    Exact, including the NaN bit patterns torch's own upcast produces, so values compare bit for bit.
    """
    bits = np.arange(256, dtype=np.int64)
    if name == "float8_e5m2":  # the top byte of a float16
        out = (bits.astype(np.uint16) << 8).view(np.float16).astype(np.float32)
        out.view(np.uint32)[np.isnan(out)] |= 0x00400000  # torch returns quiet NaNs
        return out
    if name == "float8_e8m0fnu":  # exponent only, bias 127, 0xFF is NaN
        out = np.ldexp(1.0, np.minimum(bits, 254) - 127).astype(np.float32)
        out.view(np.uint32)[255] = 0x7F800001
        return out
    mbits, bias = {"float8_e4m3fn": (3, 7), "float8_e4m3fnuz": (3, 8), "float8_e5m2fnuz": (2, 16)}[name]
    ebits = 7 - mbits
    sign = np.where(bits & 0x80, -1.0, 1.0)
    exp = (bits >> mbits) & ((1 << ebits) - 1)
    frac = (bits & ((1 << mbits) - 1)) / float(1 << mbits)
    out = (sign * np.where(exp == 0, np.ldexp(frac, 1 - bias), np.ldexp(1.0 + frac, exp - bias)))
    out = out.astype(np.float32)
    u = out.view(np.uint32)
    if name == "float8_e4m3fn":  # no infinities: S.1111.111 is NaN
        u[0x7F], u[0xFF] = 0x7FF00000, 0xFFF00000
    else:  # fnuz: no infinities, no negative zero, 0x80 is the only NaN
        u[0x80] = 0x7F800001
    return out


def numpy_dtype(dtype: DType, byteorder: str) -> np.dtype:
    """The numpy dtype that reads ``dtype``'s raw bytes in the file's byte order (``<`` or ``>``)."""
    if dtype.kind == "c32":
        return np.dtype([("re", byteorder + "f2"), ("im", byteorder + "f2")])
    return np.dtype(byteorder + dtype.raw)


def decode(raw: np.ndarray, dtype: DType) -> np.ndarray:
    """Exact values of an array of raw elements (already shaped, native or foreign byte order).

    Returns a native-byte-order array; ``bfloat16`` and float8 come back as ``float32``.
    """
    if dtype.kind == "c32":  # (real, imag) float16 pairs
        out = np.empty(raw.shape, dtype=np.complex64)
        out.real = raw["re"]
        out.imag = raw["im"]
        return out
    if not raw.dtype.isnative:
        raw = raw.astype(raw.dtype.newbyteorder("="))
    if dtype.kind == "native":
        return raw
    if dtype.kind == "bf16":
        return bf16_to_float32(raw)
    if dtype.kind == "f8":
        return _float8_table(dtype.name)[raw]
    raise ValueError(f"dtype {dtype.name} cannot be decoded")

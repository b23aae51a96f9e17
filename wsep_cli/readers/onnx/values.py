"""Decode an ONNX tensor's values to numpy, the way ``onnx.numpy_helper.to_array`` does.

``raw_data`` (inline or external) is little-endian in the dtype's own layout; the typed storage fields
hold each dtype in a wider protobuf type (``int32_data`` for 8/16-bit types and bit patterns,
``uint64_data`` for uint32/uint64, complex numbers as float pairs). ``bfloat16`` comes back as
``float32`` (exact). float8 and 4-bit types need ``ml_dtypes`` (imported only for them); string
tensors decode ``string_data``. Never imports ``onnx``.
"""

from __future__ import annotations

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.onnx.proto import Tensor, storage_values
from wsep_cli.readers.onnx.wire import Source
from wsep_cli.readers.base import bf16_to_float32

__all__ = ["raw_size", "decode_raw", "decode_typed", "STRING", "BF16"]

STRING, BF16 = 8, 16
_SUB_BYTE = {21, 22, 23}  # uint4, int4, float4e2m1: two values per byte
_NUMPY = {
    1: "<f4", 2: "u1", 3: "i1", 4: "<u2", 5: "<i2", 6: "<i4", 7: "<i8", 9: "?", 10: "<f2",
    11: "<f8", 12: "<u4", 13: "<u8", 14: "<c8", 15: "<c16",
}
_ML_DTYPES = {
    17: "float8_e4m3fn", 18: "float8_e4m3fnuz", 19: "float8_e5m2", 20: "float8_e5m2fnuz",
    21: "uint4", 22: "int4", 23: "float4_e2m1fn",
}
# typed storage: field number and the dtype the stored values are converted with
_INT32_BITS16 = {4, 5, 10}  # uint16, int16, float16: int32_data holds the 16-bit patterns
_INT32_BITS8 = {9, 17, 18, 19, 20}  # bool and float8: int32_data holds the byte values


def _dtype(data_type: int) -> np.dtype:
    if data_type in _NUMPY:
        return np.dtype(_NUMPY[data_type])
    if data_type in _ML_DTYPES:
        try:
            import ml_dtypes
        except ImportError as e:
            raise UnreadableError(f"data type {data_type} needs the ml_dtypes package (pip install ml_dtypes)") from e
        return np.dtype(getattr(ml_dtypes, _ML_DTYPES[data_type]))
    raise UnreadableError(f"unknown data type {data_type}")


def raw_size(data_type: int, numel: int) -> int | None:
    """Bytes the tensor's raw data must hold (None for strings, which have no raw form).

    Raises:
        UnreadableError: the data type is unknown or unsupported.
    """
    if data_type == STRING:
        return None
    if data_type in _SUB_BYTE:
        return (numel + 1) // 2
    if data_type == BF16:
        return numel * 2
    if data_type in _NUMPY or data_type in _ML_DTYPES:
        return numel * (1 if data_type in _ML_DTYPES else np.dtype(_NUMPY[data_type]).itemsize)
    raise UnreadableError(f"unknown data type {data_type}")


def _unpack_4bit(data: np.ndarray, numel: int) -> np.ndarray:
    out = np.empty(data.size * 2, dtype=np.uint8)
    out[0::2] = data & 0x0F
    out[1::2] = data >> 4
    if out.size == numel + 1:
        out = out[:-1]
    if out.size != numel:
        raise UnreadableError(f"{data.size} packed bytes hold {out.size} 4-bit values, not {numel}")
    return out


def decode_raw(raw: bytes, data_type: int, shape: tuple[int, ...]) -> np.ndarray:
    """Values from little-endian ``raw_data`` bytes (length already checked by the caller)."""
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if data_type == BF16:
        return bf16_to_float32(np.frombuffer(raw, dtype="<u2")).reshape(shape)
    if data_type in _SUB_BYTE:
        return _unpack_4bit(np.frombuffer(raw, dtype=np.uint8), numel).view(_dtype(data_type)).reshape(shape)
    return np.frombuffer(raw, dtype=_dtype(data_type)).reshape(shape)


def decode_typed(src: Source, t: Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Values from the typed storage fields (``float_data``, ``int32_data``...)."""
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    fields = {f: storage_values(src, t, f) for f in (4, 5, 7, 10, 11)}
    stored = sum(a.size for a in fields.values()) + len(t.string_data)
    if stored * 2 < numel:  # complex values take two slots, 4-bit types pack two per slot
        raise UnreadableError(f"holds {stored} values for shape {shape}")
    dt = t.data_type
    if dt == STRING:
        strings = [src.read(a, n).decode("utf-8") for a, n in t.string_data]
        return np.asarray(strings).astype(object).reshape(shape)
    if dt == BF16:
        bits = fields[5].view(np.uint32).astype(np.uint16)
        if bits.size != numel:
            raise UnreadableError(f"holds {bits.size} values for shape {shape}")
        return bf16_to_float32(bits).reshape(shape)
    target = _dtype(dt)
    if dt in _INT32_BITS16:
        return fields[5].view(np.uint32).astype(np.uint16).reshape(shape).view(target)
    if dt in _INT32_BITS8:
        return fields[5].view(np.uint32).astype(np.uint8).view(target).reshape(shape)
    if dt in _SUB_BYTE:
        return _unpack_4bit(fields[5].view(np.uint32).astype(np.uint8), numel).view(target).reshape(shape)
    if dt in (14, 15):  # complex: (re, im) pairs in float_data / double_data
        return fields[4 if dt == 14 else 10].view(target).reshape(shape)
    storage = {1: 4, 11: 10, 7: 7, 12: 11, 13: 11}.get(dt, 5)  # int8/uint8/int32: int32_data
    return fields[storage].astype(target).reshape(shape)

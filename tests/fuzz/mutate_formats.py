"""Structure-aware mutators: safetensors JSON headers, zip records and members, legacy torch pickles,
ONNX protobuf fields, sharded-index JSON. Each returns new bytes from the original and a seeded RNG.
"""

from __future__ import annotations

import io
import json
import pickletools
import random
import struct
import warnings
import zipfile

from mutate_bytes import INTERESTING, bit_flip, mutate_pickle, truncate
from protobuf_wire import LEN, VARINT, Field, parse, serialize, walk

__all__ = [
    "mutate_safetensors_header",
    "mutate_zip_records",
    "mutate_zip_members",
    "mutate_legacy",
    "mutate_onnx_wire",
    "mutate_shard_index",
    "nan_fill_safetensors",
]

_JUNK: tuple[object, ...] = (
    None, True, -1, 0, 1, 2**31, 2**63, 2**64 + 5, -(2**63), 1.5, float("nan"), "x", "F32", [], [1],
    [2**40, 2**40], {}, {"a": 1}, "\u0000",
)
_ST_DTYPES = ("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3",
              "F8_E5M2", "F31", "", "f32", "C64", "U64")


def _split_safetensors(data: bytes) -> tuple[dict[str, object], bytes]:
    (hlen,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + hlen]), data[8 + hlen:]


def _pack_safetensors(header: dict[str, object] | str, body: bytes, rng: random.Random) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode("utf-8", "surrogatepass")
    hlen = len(raw)
    if rng.random() < 0.1:  # a header length that lies a little or a lot
        hlen = max(0, hlen + rng.choice((-8, -1, 1, 8, 2**32, 2**63)))
    return struct.pack("<Q", hlen & (2**64 - 1)) + raw + body


def _shape_variant(shape: list[int], rng: random.Random) -> object:
    return rng.choice((
        [d + 1 for d in shape], list(reversed(shape)), shape + [1], shape[:-1], [], [0, *shape[1:]],
        [2**40, 2**40], [2**63, 2], [2**64 + 1], [-1, *shape[1:]], [*shape, 1, 1], [1] * 17,
        [float(d) for d in shape], [str(d) for d in shape], [0, 2**70], [True, 3],
    ))


def _offsets_variant(off: list[int], other: list[int], data_len: int, rng: random.Random) -> object:
    s, e = off
    return rng.choice((
        [e, s], [s + 1, e + 1], [s - 1, e - 1], [s, e + rng.choice((1, 4, 2**32))], [0, data_len + 4],
        [data_len, data_len], [-4, e], [s, 2**64], list(other), [other[0], other[0] + (e - s)],
        [s], [s, e, e], [str(s), e], [s + 0.5, e], [2**63, 2**63 + (e - s)],
    ))


def mutate_safetensors_header(data: bytes, rng: random.Random) -> bytes:
    """Edit one field of the JSON header, re-encode with a consistent (or lying) length."""
    try:
        header, body = _split_safetensors(data)
    except (ValueError, struct.error):
        return bit_flip(data, rng)
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    spec = header[name]
    assert isinstance(spec, dict)
    mode = rng.randrange(11)
    if mode == 0:
        spec["dtype"] = rng.choice(_ST_DTYPES + (None, 3))
    elif mode == 1:
        spec["shape"] = _shape_variant(list(spec["shape"]), rng)
    elif mode == 2:
        other = header[rng.choice(names)]
        spec["data_offsets"] = _offsets_variant(list(spec["data_offsets"]), list(other["data_offsets"]),  # type: ignore[index]
                                                len(body), rng)
    elif mode == 3:
        header[name] = rng.choice(_JUNK)
    elif mode == 4:
        del header[name]
    elif mode == 5:
        header["__metadata__"] = rng.choice(_JUNK + ({"a": {"b": 1}}, {"num_classes": "x" * 9000}))
    elif mode == 6:
        header[rng.choice(("fc.weight", "", "a" * 5000, "é", "module.classifier.weight"))] = header.pop(name)
    elif mode == 7:  # duplicate key, textually
        text = json.dumps(header)
        dup = json.dumps({name: {**spec, "dtype": rng.choice(_ST_DTYPES)}})[1:-1]
        return _pack_safetensors("{" + dup + ", " + text[1:], body, rng)
    elif mode == 8:  # not-quite JSON
        text = json.dumps(header)
        cut = rng.randrange(len(text))
        return _pack_safetensors(rng.choice((text[:cut], text + "x", "[" * 50000, '"' + text)), body, rng)
    elif mode == 9:
        body = truncate(body, rng) if rng.random() < 0.5 else body + b"\0" * rng.choice((1, 7, 4096))
    else:
        for k in names:  # every entry one dtype: makes ints / float8 / bool heads
            if isinstance(header[k], dict):
                header[k]["dtype"] = rng.choice(("I8", "U8", "F16", "BF16", "F8_E4M3", "BOOL", "I32"))
    return _pack_safetensors(header, body, rng)


def nan_fill_safetensors(data: bytes, rng: random.Random) -> bytes:
    """Overwrite some values of one float32 tensor with NaN / Inf / huge values."""
    header, body = _split_safetensors(data)
    name = rng.choice([k for k in header if k != "__metadata__"])
    s, e = header[name]["data_offsets"]  # type: ignore[index]
    arr = bytearray(body)
    bad = rng.choice((b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x80\xff", b"\xff\xff\x7f\x7f"))
    for _ in range(rng.choice((1, 3, 50))):
        if e - s >= 4:
            p = s + 4 * rng.randrange((e - s) // 4)
            arr[p:p + 4] = bad
    hlen = struct.unpack("<Q", data[:8])[0]
    return data[:8 + hlen] + bytes(arr)


# ------------------------------------------------------------------------------------------- zip

_LOCAL = {"method": (8, "<H"), "crc": (14, "<I"), "csize": (18, "<I"), "usize": (22, "<I"),
          "namelen": (26, "<H"), "extralen": (28, "<H")}
_CENTRAL = {"method": (10, "<H"), "crc": (16, "<I"), "csize": (20, "<I"), "usize": (24, "<I"),
            "namelen": (28, "<H"), "extralen": (30, "<H"), "commentlen": (32, "<H"), "offset": (42, "<I")}
_EOCD = {"disk_entries": (8, "<H"), "entries": (10, "<H"), "cd_size": (12, "<I"), "cd_offset": (16, "<I"),
         "commentlen": (20, "<H")}


def _records(data: bytes) -> list[tuple[int, dict[str, tuple[int, str]]]]:
    """Start offsets of every local header, central header and the end record."""
    recs: list[tuple[int, dict[str, tuple[int, str]]]] = []
    for magic, fields in ((b"PK\x03\x04", _LOCAL), (b"PK\x01\x02", _CENTRAL), (b"PK\x05\x06", _EOCD)):
        p = data.find(magic)
        while p != -1:
            recs.append((p, fields))
            p = data.find(magic, p + 4)
    return recs


def mutate_zip_records(data: bytes, rng: random.Random) -> bytes:
    """Set one field of a local header, central-directory entry or end record to a boundary value."""
    recs = _records(data)
    if not recs:
        return bit_flip(data, rng)
    start, fields = rng.choice(recs)
    off, fmt = fields[rng.choice(sorted(fields))]
    size = struct.calcsize(fmt)
    old = struct.unpack_from(fmt, data, start + off)[0]
    mask = (1 << (8 * size)) - 1
    new = rng.choice((rng.choice(INTERESTING), old + rng.choice((-1, 1, -64, 64, 4096)), 8, 12, 99)) & mask
    return data[:start + off] + struct.pack(fmt, new) + data[start + off + size:]


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _write_zip(members: list[tuple[str, bytes]], rng: random.Random) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.15 else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, blob in members:
                # A fixed timestamp: with the default (now) a case would change with the clock second.
                zf.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), blob, compress_type=method)
    return buf.getvalue()


def mutate_zip_members(data: bytes, rng: random.Random) -> bytes:
    """Rebuild the archive with one member changed: its pickle, a storage, a name, or it removed."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    k = rng.randrange(len(members))
    pkl = next((i for i, (n, _) in enumerate(members) if n.endswith("data.pkl")), k)
    mode = rng.randrange(8)
    name, blob = members[k]
    if mode <= 2:  # the pickle is where the interesting parsing happens
        members[pkl] = (members[pkl][0], mutate_pickle(members[pkl][1], rng))
    elif mode == 3:
        members[k] = (name, truncate(blob, rng) if rng.random() < 0.7 else blob + b"\0" * rng.choice((1, 4, 4096)))
    elif mode == 4:
        del members[k]
    elif mode == 5:
        prefix = name.split("/")[0]
        members[k] = (rng.choice((f"{prefix}/data/99", f"{prefix}/../x", "/abs", "", name + "x", name.upper(),
                                  "other/" + name.split("/")[-1], name.split("/")[-1])), blob)
    elif mode == 6:
        prefix = members[0][0].split("/")[0]
        extra = rng.choice(((f"{prefix}/byteorder", rng.choice((b"big", b"middle", b""))),
                            (f"{prefix}/version", rng.choice((b"99", b"x", b"", b"3\n"))),
                            (f"{prefix}/constants.pkl", b"\x80\x02)."), (f"{prefix}/code/x.py", b"def f(): pass"),
                            (name, blob)))
        members.insert(rng.randrange(len(members) + 1), extra)
    else:
        j = rng.randrange(len(members))
        members[k], members[j] = (name, members[j][1]), (members[j][0], blob)
    return _write_zip(members, rng)


# ----------------------------------------------------------------------------------- legacy torch

def _legacy_pickles(data: bytes) -> list[tuple[int, int]]:
    f = io.BytesIO(data)
    spans = []
    for _ in range(5):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        spans.append((start, f.tell()))
    return spans


def mutate_legacy(data: bytes, rng: random.Random) -> bytes:
    """Mutate one of the five pickles of a legacy checkpoint, or a raw storage's element count."""
    spans = _legacy_pickles(data)
    if rng.random() < 0.2:  # storages follow the pickles: u64 count, then the elements
        p = spans[-1][1]
        counts = []
        while p + 8 <= len(data):
            counts.append(p)
            (n,) = struct.unpack_from("<Q", data, p)
            p += 8 + 4 * n
        if counts:
            at = rng.choice(counts)
            v = rng.choice(INTERESTING)
            return data[:at] + struct.pack("<Q", v) + data[at + 8:]
    weights = (1, 1, 1, 6, 2)  # the state_dict pickle is the interesting one
    s, e = spans[rng.choices(range(5), weights)[0]]
    return data[:s] + mutate_pickle(data[s:e], rng) + data[e:]


# ------------------------------------------------------------------------------------------ ONNX

_ONNX_INTS = (0, 1, 2, 3, 6, 7, 10, 11, 16, 99, 2**31, 2**63 - 1, -1, -(2**31))
_EXTERNAL_LOCATIONS = ("../x.bin", "/etc/passwd", "/dev/zero", "missing.bin", "", ".", "a/../../b.bin",
                       "digits_mlp.onnx", "./digits_mlp.onnx", "sub/../digits_mlp.onnx", "\u0000")
_EXTERNAL_NUMBERS = ("0", "16", "-1", "99999999999", "abc", "1e3", "18446744073709551616", "")


def _onnx_weight(path: tuple[int, ...]) -> int:
    """Initializers, nodes and graph outputs are where the reader's decisions are made."""
    if path[:2] == (7, 5):
        return 5
    if path[:2] == (7, 1):
        return 3
    return 2 if path[:2] in ((7, 11), (7, 12)) else 1


def _external(init: Field, rng: random.Random) -> None:
    """Point an initializer at external data: escapes, missing files, bad offsets and lengths."""
    assert isinstance(init.value, list)
    entries = [("location", rng.choice(_EXTERNAL_LOCATIONS))]
    if rng.random() < 0.6:
        entries.append(("offset", rng.choice(_EXTERNAL_NUMBERS)))
    if rng.random() < 0.6:
        entries.append(("length", rng.choice(_EXTERNAL_NUMBERS)))
    kept = [f for f in init.value if f.number not in (9, 13, 14) or rng.random() < 0.1]
    kept += [Field(13, LEN, [Field(1, LEN, k.encode()), Field(2, LEN, v.encode())], True) for k, v in entries]
    kept.append(Field(14, VARINT, rng.choice((1, 1, 1, 0, 2))))
    init.value = kept


def mutate_onnx_wire(data: bytes, rng: random.Random) -> bytes:
    """Change, drop, duplicate or renumber one protobuf field; re-serialize with fresh lengths."""
    try:
        tree = parse(data)
    except ValueError:
        return bit_flip(data, rng)
    spots = walk(tree)
    path, holder, i = rng.choices(spots, [_onnx_weight(p) for p, _, _ in spots])[0]
    f = holder[i]
    mode = rng.randrange(8)
    if mode == 0 and f.wire == VARINT:
        holder[i] = Field(f.number, VARINT, rng.choice(_ONNX_INTS))
    elif mode == 1:
        del holder[i]
    elif mode == 2:
        holder.insert(i, Field(f.number, f.wire, f.value, f.children))
    elif mode == 3:
        holder[i] = Field(rng.choice((1, 2, 3, 4, 5, 7, 8, 9, 13, 14, 15)), f.wire, f.value, f.children)
    elif mode == 4 and f.wire == LEN and isinstance(f.value, bytes):
        holder[i] = Field(f.number, LEN, rng.choice((f.value[: len(f.value) // 2], b"", f.value * 2,
                                                      bit_flip(f.value, rng), b"../../etc/passwd")))
    elif mode in (5, 6):  # an initializer moved to external data
        graph = next((g for g in tree if g.number == 7 and isinstance(g.value, list)), None)
        inits = [g for g in graph.value if g.number == 5 and isinstance(g.value, list)] if graph else []
        if inits:
            _external(rng.choice(inits[-2:] if rng.random() < 0.7 else inits), rng)
    else:  # a length that lies, in the raw bytes
        raw = serialize(tree)
        return raw[:-rng.randrange(1, 64)] if rng.random() < 0.5 else bit_flip(raw, rng)
    return serialize(tree)


# ------------------------------------------------------------------------------------ shard index

def mutate_shard_index(data: bytes, rng: random.Random) -> bytes:
    """Edit the weight map: names outside the folder, missing shards, wrong types."""
    doc = json.loads(data)
    wm = doc["weight_map"]
    key = rng.choice(sorted(wm))
    mode = rng.randrange(6)
    if mode == 0:
        wm[key] = rng.choice(("../digits_mlp.safetensors", "/etc/passwd", "missing.safetensors", "",
                              ".", "sub/../../x.safetensors", "model.safetensors.index.json", "\u0000"))
    elif mode == 1:
        wm[key] = rng.choice(_JUNK)
    elif mode == 2:
        doc["weight_map"] = rng.choice(_JUNK)
    elif mode == 3:
        wm[rng.choice(("fc.weight", "", "x" * 1000))] = wm.pop(key)
    elif mode == 4:
        doc.pop(rng.choice(("weight_map", "metadata")), None)
    else:
        doc = rng.choice(_JUNK)
    return json.dumps(doc).encode()

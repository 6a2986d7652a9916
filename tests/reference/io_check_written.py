#!/usr/bin/env python3
"""io_check_written.py — reads back, with Python's own readers, the files gaitrt's writers
produced in tests/io (test_io_write): OpenGait .pkl arrays via pickle.load, .npy via np.load,
and a safetensors file compared with the torch checkpoint it was converted from.

Usage: io_check_written.py DIR. The C test wrote DIR/w_<name>.pkl and .npy with the value
pattern below, and DIR/sd_roundtrip.safetensors from DIR/../ckpt_opengait.pt (if present).
Prints one line per file and OK / NOT OK; exits 0, 1 on a mismatch, or 77 without numpy.
"""
import json
import os
import pickle
import struct
import sys

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy missing")
    sys.exit(77)

# Must match pattern_value() in tests/io/test_io_write.c.
CASES = {
    "f32": ("float32", (2, 3, 5)), "f64": ("float64", (2, 3, 5)), "f16": ("float16", (2, 3, 5)),
    "i64": ("int64", (2, 3, 5)), "i32": ("int32", (2, 3, 5)), "i16": ("int16", (2, 3, 5)),
    "i8": ("int8", (2, 3, 5)), "u8": ("uint8", (2, 3, 5)), "bool": ("bool", (2, 3, 5)),
    "sil": ("uint8", (10, 64, 64)), "scalar": ("float32", ()), "empty": ("float32", (0, 4)),
    "vec": ("int64", (7,)), "mid": ("int16", (300,)), "wide": ("uint8", (1, 70000)),
}


def pattern(dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    i = np.arange(n, dtype=np.int64)
    if dtype.startswith("float"):
        v = (i % 97) * 0.25 - 12.0
    elif dtype == "bool":
        v = (i % 3) == 0
    elif dtype == "uint8":
        v = (i * 37) % 251
    else:
        v = (i * 37) % 251 - 125
    a = np.asarray(v).astype(dtype).reshape(shape)
    return a


def expected(name):
    dtype, shape = CASES[name]
    return pattern(dtype, shape)


def check_array(path, a, want):
    ok = (isinstance(a, np.ndarray) and a.dtype == want.dtype and a.shape == want.shape
          and a.flags["C_CONTIGUOUS"] and np.array_equal(a, want))
    print(f"{os.path.basename(path)}: {'OK' if ok else 'NOT OK'} ({getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')})")
    return ok


def check_safetensors(path, ckpt):
    try:
        import torch
    except ImportError:
        print(f"{os.path.basename(path)}: skipped (torch missing)")
        return True
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    data = raw[8 + hlen:]
    sd = torch.load(ckpt, map_location="cpu")["model"]
    names = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
             "U8": np.uint8, "BOOL": np.bool_}
    ok = set(k for k in header if k != "__metadata__") == set(sd.keys())
    for k, v in sd.items():
        h = header.get(k)
        if h is None:
            ok = False
            continue
        b, e = h["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=names[h["dtype"]]).reshape(h["shape"])
        ref = v.float().numpy() if v.is_floating_point() else v.numpy()
        if a.shape != ref.shape or a.dtype != ref.dtype or not np.array_equal(a, ref):
            print(f"  {k}: mismatch ({a.dtype} {a.shape} vs {ref.dtype} {ref.shape})")
            ok = False
    print(f"{os.path.basename(path)}: {'OK' if ok else 'NOT OK'} ({len(sd)} tensors vs torch.load)")
    return ok


def main():
    d = sys.argv[1]
    ok = True
    for name in CASES:
        want = expected(name)
        p = os.path.join(d, f"w_{name}.pkl")
        if os.path.exists(p):
            with open(p, "rb") as f:
                head = f.read(2)
                f.seek(0)
                ok &= head == b"\x80\x02"  # protocol 2, as promised
                ok &= check_array(p, pickle.load(f), want)
        else:
            print(f"{p}: missing")
            ok = False
        p = os.path.join(d, f"w_{name}.npy")
        ok &= check_array(p, np.load(p), want)
    st = os.path.join(d, "sd_roundtrip.safetensors")
    ckpt = os.path.join(d, "..", "ckpt_opengait.pt")
    if os.path.exists(st) and os.path.exists(ckpt):
        ok &= check_safetensors(st, ckpt)
    print("io_check_written:", "OK" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

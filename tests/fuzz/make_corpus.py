#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<parser>/).

    /usr/bin/python3 tests/fuzz/make_corpus.py [OUTDIR]        (default: tests/fuzz/corpus)

Every seed is small (a few KiB at most) and made here from scratch with torch, numpy, Pillow
or the standard library, so that the fuzzers start from the shapes real files have: torch.save
archives of several layouts and dtypes, pickles of every protocol, numpy headers of every
version, PNGs of every colour type and bit depth (written by our own small PNG writer so that
we control the chunks), JPEGs with EXIF orientation, keypoint files and OpenGait YAML configs.
The output is deterministic (fixed values, fixed zip timestamps), so re-running it changes no
committed file.

It is not a test and not a source of reference values; nothing here is read from the shared
data folder.
"""
import argparse
import collections
import io
import json
import os
import pickle
import re
import struct
import sys
import zipfile
import zlib

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:  # pragma: no cover
    print(f"make_corpus.py needs torch, numpy and Pillow ({e}); run it with /usr/bin/python3", file=sys.stderr)
    sys.exit(1)

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
written = collections.Counter()


def put(outdir, parser, name, data):
    d = os.path.join(outdir, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[parser] += 1


# ---- zip ------------------------------------------------------------------------------------


def zip_bytes(entries, method=zipfile.ZIP_STORED, comment=b"", force_zip64=False, unseekable=False):
    """entries: list of (name, bytes). Fixed timestamps so the output never changes."""

    class NoSeek(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buf += b
            return len(b)

    raw = NoSeek() if unseekable else io.BytesIO()
    with zipfile.ZipFile(raw, "w", method) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = method
            with z.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
        z.comment = comment
    return bytes(raw.buf) if unseekable else raw.getvalue()


def legacy_tensor_pickle(t, protocol=2):
    """pickle.dumps(tensor): the storage goes through torch.storage._load_from_bytes with a
    legacy torch blob. torch names the storage in that blob after its memory address, so we
    rename it "0" to keep the output the same from run to run."""

    def blob(storage):
        b = io.BytesIO()
        torch.save(storage, b, _use_new_zipfile_serialization=False)

        def fix(m):
            n = struct.unpack("<I", m.group(1))[0]
            return b"X\x01\x00\x00\x000" if n == len(m.group(2)) else m.group(0)

        return re.sub(rb"X(.{4})(\d{6,20})", fix, b.getvalue(), flags=re.S)

    class P(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, torch.storage.TypedStorage):
                return (torch.storage._load_from_bytes, (blob(obj),))
            return NotImplemented

    out = io.BytesIO()
    P(out, protocol=protocol).dump(t)
    return out.getvalue()


def torch_bytes(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def make_zip(out):
    text = b"gait " * 40
    put(out, "zip", "stored.zip", zip_bytes([("a.txt", b"hello"), ("dir/b.bin", bytes(range(64)))]))
    put(out, "zip", "deflated.zip", zip_bytes([("a.txt", text), ("b.txt", b"x")], zipfile.ZIP_DEFLATED))
    put(out, "zip", "zip64.zip", zip_bytes([("big.bin", text)], force_zip64=True))
    put(out, "zip", "descriptor.zip", zip_bytes([("s.bin", text)], zipfile.ZIP_DEFLATED, unseekable=True))
    put(out, "zip", "comment.zip", zip_bytes([("c.txt", b"c")], comment=b"archive comment"))
    put(out, "zip", "empty.zip", zip_bytes([]))
    put(out, "zip", "empty_entry.zip", zip_bytes([("e", b""), ("f/", b"")]))
    put(out, "zip", "torch_tensor.pt", torch_bytes({"w": torch.arange(6, dtype=torch.float32)}))


# ---- checkpoints (torch zip) -------------------------------------------------------------------


def make_ckpt(out):
    f = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7
    sd = collections.OrderedDict([("conv.weight", f), ("conv.bias", torch.tensor([0.5, -1.0, 2.0]))])
    put(out, "ckpt", "opengait.pt", torch_bytes({"model": sd, "iteration": 60000}))
    put(out, "ckpt", "state_dict.pt", torch_bytes({"state_dict": sd, "epoch": 3}))
    put(out, "ckpt", "top_level.pt", torch_bytes(sd))
    put(out, "ckpt", "module_prefix.pt", torch_bytes({"model": collections.OrderedDict(("module." + k, v) for k, v in sd.items())}))
    dt = collections.OrderedDict(
        [("f16", f.half()), ("bf16", f.bfloat16()), ("f64", f.double()), ("i64", torch.arange(4)),
         ("i32", torch.arange(4, dtype=torch.int32)), ("i16", torch.arange(4, dtype=torch.int16)),
         ("i8", torch.arange(-2, 2, dtype=torch.int8)), ("u8", torch.arange(4, dtype=torch.uint8)),
         ("b", torch.tensor([True, False]))])
    put(out, "ckpt", "dtypes.pt", torch_bytes({"model": dt}))
    base = torch.arange(24, dtype=torch.float32)
    views = collections.OrderedDict(
        [("whole", base), ("slice", base[5:11]), ("strided", base.view(4, 6)[:, ::2]), ("t", base.view(4, 6).t()),
         ("scalar", torch.tensor(3.5)), ("empty", torch.zeros(0, 3)), ("expand", torch.ones(1, 3).expand(4, 3))])
    put(out, "ckpt", "views.pt", torch_bytes({"model": views}))
    p = torch.nn.Parameter(f.clone())
    put(out, "ckpt", "parameter.pt", torch_bytes({"model": {"p": p, "bn.num_batches_tracked": torch.tensor(7)}}))
    lin = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(lin.weight, 0.25)
    torch.nn.init.constant_(lin.bias, -0.5)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10, 20])
    put(out, "ckpt", "with_optimizer.pt",
        torch_bytes({"model": lin.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "iteration": 1}))
    put(out, "ckpt", "whole_module.pt", torch_bytes(lin))  # refused: a pickled nn.Module


# ---- safetensors ---------------------------------------------------------------------------------

ST_DT = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def safetensors_bytes(tensors, metadata=None, raw_header=None):
    """tensors: list of (name, dtype name, np array or raw bytes with shape)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dt, arr in tensors:
        if dt == "BF16":
            shape, b = arr
        else:
            a = np.ascontiguousarray(np.asarray(arr, dtype=ST_DT[dt]))
            shape, b = list(a.shape), a.tobytes()
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def make_safetensors(out):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    put(out, "safetensors", "basic.safetensors", safetensors_bytes([("w", "F32", a), ("b", "F32", [1.0, 2.0])], {"format": "pt"}))
    bf16 = (np.arange(4, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    put(out, "safetensors", "dtypes.safetensors", safetensors_bytes(
        [("f16", "F16", a), ("f64", "F64", a), ("bf16", "BF16", ([4], bf16)), ("i64", "I64", [1, -2]), ("i32", "I32", [3]),
         ("i16", "I16", [4, 5]), ("i8", "I8", [-1]), ("u8", "U8", [255, 0]), ("bool", "BOOL", [True, False])]))
    put(out, "safetensors", "scalar_empty.safetensors", safetensors_bytes([("s", "F32", np.float32(2.5)), ("e", "F32", np.zeros((0, 4)))]))
    put(out, "safetensors", "no_metadata.safetensors", safetensors_bytes([("x.y.z", "F32", [0.5])]))
    # JSON the header reader must handle: escapes, surrogate pairs, numbers of every form.
    hdr = ('{"__metadata__":{"n":"-1.5e+3","u":"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/","k":[true,false,null,0,-0.25,1E2]},'
           '"caf\\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}').encode()
    put(out, "safetensors", "json_forms.safetensors", safetensors_bytes([], raw_header=hdr) + struct.pack("<f", 1.0))
    put(out, "safetensors", "header_only.safetensors", safetensors_bytes([], {}))


# ---- npy ---------------------------------------------------------------------------------------------


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def make_npy(out):
    base = np.arange(12).reshape(3, 4)
    for dt in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1"):
        put(out, "npy", f"{dt}.npy", npy_bytes(base.astype(dt)))
    put(out, "npy", "bool.npy", npy_bytes(base % 2 == 0))
    put(out, "npy", "fortran.npy", npy_bytes(np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4))))
    put(out, "npy", "scalar.npy", npy_bytes(np.float32(1.5)))
    put(out, "npy", "empty.npy", npy_bytes(np.zeros((0, 3), dtype=np.uint8)))
    put(out, "npy", "v2.npy", npy_bytes(np.ones((2, 2), dtype=np.float32), version=(2, 0)))
    put(out, "npy", "v3.npy", npy_bytes(np.ones((2,), dtype=np.int16), version=(3, 0)))
    put(out, "npy", "big_endian.npy", npy_bytes(np.ones(3, dtype=">f4")))
    put(out, "npy", "structured.npy", npy_bytes(np.zeros(2, dtype=[("a", "<f4"), ("b", "u1")])))
    put(out, "npy", "frames.npy", npy_bytes((np.arange(2 * 8 * 8) % 256).astype(np.uint8).reshape(2, 8, 8)))


# ---- pickles -------------------------------------------------------------------------------------------


def make_pickle(out):
    values = {
        "containers": {"a": [1, 2, (3, 4)], "b": {5, 6}, "c": frozenset([7]), "d": {"x": None, "y": True, "z": False}},
        "scalars": [0, 1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31, 2 ** 63, -2 ** 64, 10 ** 30, 1.5, -0.0, float("inf")],
        "strings": ["", "ascii", "caf\u00e9", "\U0001f600", b"\x00\xff", bytearray(b"ba"), "x" * 300],
        "ordered": collections.OrderedDict([("k1", 1), ("k2", [2])]),
    }
    shared = [1, 2]
    values["memo"] = [shared, shared, {"s": shared}]
    for name, v in values.items():
        for proto in range(0, 6):
            put(out, "pickle", f"{name}_p{proto}.pkl", pickle.dumps(v, protocol=proto))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    for proto in (0, 2, 4, 5):
        put(out, "pickle", f"ndarray_p{proto}.pkl", pickle.dumps(a, protocol=proto))
    put(out, "pickle", "np_scalars.pkl", pickle.dumps([np.float64(0.1), np.int64(-3), np.bool_(True), np.dtype("u1")], protocol=2))
    put(out, "pickle", "tensor_legacy.pkl", legacy_tensor_pickle(torch.arange(4, dtype=torch.float32)))
    put(out, "pickle", "tensor_view_legacy.pkl", legacy_tensor_pickle(torch.arange(8, dtype=torch.int16)[2:6]))
    # A torch checkpoint's data.pkl (persistent ids name the storages).
    for name, obj in (("ckpt", {"model": {"w": torch.ones(2, 3), "b": torch.zeros(3)}}),
                      ("ckpt_views", {"model": {"t": torch.arange(6.0).view(2, 3).t(), "h": torch.ones(4).half()}})):
        z = zipfile.ZipFile(io.BytesIO(torch_bytes(obj)))
        put(out, "pickle", f"{name}_data.pkl", z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0]))
    # Hand-written opcode streams: the protocol-0 text forms Python 3 rarely writes.
    hand = {
        "text_ops": b"(I42\nI01\nL12345678901234567890L\nF-1.25e3\nS'a\\x41\\n\\101'\nVcaf\\u00e9\\U0001F600\np0\ng0\nl.",
        "inst_obj": b"(ccollections\nOrderedDict\no(S'k'\nI1\nicollections\nCounter\n.",
        "stack_global": b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94.",
        "newobj": b"\x80\x02cargparse\nNamespace\nq\x00)\x81q\x01}q\x02X\x01\x00\x00\x00aK\x01sb.",
        "newobj_ex": b"\x80\x04\x8c\x08argparse\x8c\x09Namespace\x93)}\x92.",
        "persid": b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ.",
        "rebuild": (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x07\x00\x00\x00storagectorch\nHalfStorage\nX\x01\x00\x00\x000"
                    b"X\x03\x00\x00\x00cpuK\x06tQK\x01K\x02K\x02\x86K\x02K\x01\x86\x89ccollections\nOrderedDict\n)Rtq\x00R."),
        "frame_memoize": b"\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01h\x00e\x94.",
        "long_forms": b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x8b\x02\x00\x00\x00\xff\x7f\x86.",
        "bytes8": b"\x80\x04\x8e\x02\x00\x00\x00\x00\x00\x00\x00ab\x96\x01\x00\x00\x00\x00\x00\x00\x00c\x8d\x01\x00\x00\x00\x00\x00\x00\x00d\x87.",
        "setitems_additems": b"\x80\x04}(K\x01K\x02K\x03K\x04u\x8f(K\x05\x90\x86.",
        "pop_mark_dup": b"(K\x01K\x021K\x032\x86.",
        "ext_ops": b"\x80\x02\x82\x01.",
        "evil_system": b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.",
    }
    for name, b in hand.items():
        put(out, "pickle", f"hand_{name}.pkl", b)


def make_pkl(out):
    frames = (np.arange(2 * 8 * 6) % 256).astype(np.uint8).reshape(2, 8, 6)
    for proto in (2, 3, 4, 5):
        put(out, "pkl", f"frames_p{proto}.pkl", pickle.dumps(frames, protocol=proto))
    put(out, "pkl", "frames_p0.pkl", pickle.dumps(frames[:1, :2], protocol=0))
    put(out, "pkl", "float32.pkl", pickle.dumps(np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3), protocol=2))
    put(out, "pkl", "fortran.pkl", pickle.dumps(np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)), protocol=2))
    new_core = pickle.dumps(frames, protocol=2).replace(b"numpy.core.multiarray\n", b"numpy._core.multiarray\n")
    put(out, "pkl", "numpy2_module.pkl", new_core)
    put(out, "pkl", "tensor_legacy.pkl", legacy_tensor_pickle(torch.from_numpy(frames.copy())))
    put(out, "pkl", "tensor_zip.pkl", torch_bytes(torch.arange(6, dtype=torch.float32).view(2, 3)))
    put(out, "pkl", "keypoints.pkl", pickle.dumps(np.ones((2, 17, 3), dtype=np.float32), protocol=4))
    put(out, "pkl", "not_array.pkl", pickle.dumps([frames[0, 0]], protocol=2))


# ---- images ------------------------------------------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_rows(pixels, depth, channels):
    """pixels: list of rows of sample lists -> packed scanline bytes without filter bytes."""
    out = []
    for row in pixels:
        flat = [s for px in row for s in (px if isinstance(px, (list, tuple)) else [px])]
        if depth == 16:
            out.append(b"".join(struct.pack(">H", v) for v in flat))
        elif depth == 8:
            out.append(bytes(flat))
        else:
            acc, n, b = 0, 0, bytearray()
            for v in flat:
                acc = (acc << depth) | v
                n += depth
                if n == 8:
                    b.append(acc)
                    acc, n = 0, 0
            if n:
                b.append(acc << (8 - n))
            out.append(bytes(b))
    return out


def png_filter(ft, row, prev, bpp):
    """PNG scanline filter ft (0 none, 1 sub, 2 up, 3 average, 4 Paeth) applied to one row."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ft == 0:
            pred = 0
        elif ft == 1:
            pred = a
        elif ft == 2:
            pred = b
        elif ft == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out.append((x - pred) & 0xFF)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(w, h, color, depth, pix, extra=(), interlace=False, after=(), idat_parts=1):
    """pix(x, y) -> a sample or a tuple of samples. extra: chunks before IDAT; after: after it.
    idat_parts: the zlib stream split over that many IDAT chunks."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    raw = b""
    if not interlace:
        rows = png_rows([[pix(x, y) for x in range(w)] for y in range(h)], depth, channels)
        bpp = max(1, channels * depth // 8)
        prev = bytes(len(rows[0]))
        for y, r in enumerate(rows):
            ft = y % 5  # every filter type in turn
            raw += bytes([ft]) + png_filter(ft, r, prev, bpp)
            prev = r
    else:
        for x0, y0, dx, dy in ADAM7:
            xs, ys = list(range(x0, w, dx)), list(range(y0, h, dy))
            if not xs or not ys:
                continue
            rows = png_rows([[pix(x, y) for x in xs] for y in ys], depth, channels)
            raw += b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 1 if interlace else 0)
    body = png_chunk(b"IHDR", ihdr) + b"".join(extra)
    z = zlib.compress(raw, 9)
    cut = [len(z) * i // idat_parts for i in range(idat_parts + 1)]
    body += b"".join(png_chunk(b"IDAT", z[cut[i]:cut[i + 1]]) for i in range(idat_parts)) + b"".join(after)
    return b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b"")


def exif_tiff(orientation, little=True, more=True):
    """A TIFF header and IFD0 with the orientation and (optionally) the tags OpenCV reads."""
    e = "<" if little else ">"
    entries = [(0x0112, 3, 1, struct.pack(e + "HH", orientation, 0))]
    tail = b""
    if more:
        off_tail = 8 + 2 + 12 * 4 + 4
        make = b"gaitrt\x00\x00"
        entries.append((0x010F, 2, len(make), struct.pack(e + "I", off_tail)))
        entries.append((0x011A, 5, 1, struct.pack(e + "I", off_tail + len(make))))
        entries.append((0x0128, 3, 1, struct.pack(e + "HH", 2, 0)))
        tail = make + struct.pack(e + "II", 72, 1)
    ifd = struct.pack(e + "H", len(entries)) + b"".join(struct.pack(e + "HHI", t, ty, n) + v for t, ty, n, v in entries)
    ifd += struct.pack(e + "I", 0)
    return (b"II" if little else b"MM") + struct.pack(e + "HI", 42, 8) + ifd + tail


def jpeg_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, "JPEG", **kw)
    return b.getvalue()


def make_image(out):
    w, h = 12, 10
    sil = lambda x, y: 255 if 3 <= x < 9 and 1 <= y < 9 else 0
    put(out, "image", "grey8.png", png_bytes(w, h, 0, 8, sil))
    for d in (1, 2, 4):
        put(out, "image", f"grey{d}.png", png_bytes(w, h, 0, d, lambda x, y, d=d: (x + y) % (1 << d)))
    put(out, "image", "grey16.png", png_bytes(w, h, 0, 16, lambda x, y: x * 5000 + y))
    put(out, "image", "grey_alpha8.png", png_bytes(w, h, 4, 8, lambda x, y: (sil(x, y), 128)))
    put(out, "image", "grey_alpha16.png", png_bytes(6, 4, 4, 16, lambda x, y: (x * 9000, 65535)))
    put(out, "image", "rgb8.png", png_bytes(w, h, 2, 8, lambda x, y: (x * 20, y * 25, 128)))
    put(out, "image", "rgb16.png", png_bytes(6, 4, 2, 16, lambda x, y: (x * 9000, y * 9000, 300)))
    put(out, "image", "rgba8.png", png_bytes(w, h, 6, 8, lambda x, y: (x * 20, 40, y * 25, 200)))
    put(out, "image", "rgba16.png", png_bytes(4, 4, 6, 16, lambda x, y: (x, y, 5, 65535)))
    trns = png_chunk(b"tRNS", bytes([0, 255]))
    for d in (1, 2, 4, 8):
        n = min(4, 1 << d)  # a palette may not hold more entries than the bit depth can index
        pl = png_chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255][: 3 * n]))
        put(out, "image", f"palette{d}.png", png_bytes(w, h, 3, d, lambda x, y, n=n: (x + y) % n, extra=[pl, trns]))
    put(out, "image", "interlaced.png", png_bytes(w, h, 0, 8, sil, interlace=True))
    put(out, "image", "interlaced_rgb.png", png_bytes(9, 7, 2, 8, lambda x, y: (x * 20, y * 30, 7), interlace=True))
    gama = png_chunk(b"gAMA", struct.pack(">I", 45455))
    srgb = png_chunk(b"sRGB", b"\x00")
    put(out, "image", "gamma.png", png_bytes(w, h, 2, 8, lambda x, y: (x * 20, y * 25, 90), extra=[gama]))
    put(out, "image", "srgb.png", png_bytes(w, h, 2, 8, lambda x, y: (x * 20, y * 25, 90), extra=[srgb]))
    exif = png_chunk(b"eXIf", exif_tiff(6))
    put(out, "image", "exif_before.png", png_bytes(w, h, 0, 8, sil, extra=[exif]))
    put(out, "image", "exif_after.png", png_bytes(w, h, 0, 8, sil, after=[png_chunk(b"eXIf", exif_tiff(3, little=False))]))
    put(out, "image", "grey8_split_idat.png", png_bytes(w, h, 0, 8, sil, idat_parts=3))
    try:  # what real silhouette frames look like: OpenCV's own PNG writer
        import cv2

        mask = np.zeros((24, 16), dtype=np.uint8)
        mask[3:22, 5:11] = 255
        put(out, "image", "cv2_silhouette.png", cv2.imencode(".png", mask)[1].tobytes())
    except ImportError:  # pragma: no cover
        pass
    text = png_chunk(b"tEXt", b"Comment\x00made for fuzzing")
    put(out, "image", "text_chunk.png", png_bytes(w, h, 0, 8, sil, extra=[text]))

    grey = Image.new("L", (16, 12))
    grey.putdata([sil(x % 12, y) for y in range(12) for x in range(16)])
    put(out, "image", "grey.jpg", jpeg_bytes(grey, quality=90))
    put(out, "image", "grey_progressive.jpg", jpeg_bytes(grey, quality=75, progressive=True))
    rgb = Image.new("RGB", (16, 12))
    rgb.putdata([(x * 15, y * 20, 100) for y in range(12) for x in range(16)])
    put(out, "image", "rgb420.jpg", jpeg_bytes(rgb, quality=80, subsampling=2))
    put(out, "image", "rgb444.jpg", jpeg_bytes(rgb, quality=80, subsampling=0))
    put(out, "image", "rgb422.jpg", jpeg_bytes(rgb, quality=80, subsampling=1))
    put(out, "image", "cmyk.jpg", jpeg_bytes(rgb.convert("CMYK"), quality=80))
    for o in (3, 6, 8):
        put(out, "image", f"exif_orient{o}.jpg", jpeg_bytes(grey, quality=80, exif=b"Exif\x00\x00" + exif_tiff(o, little=o != 8)))


def make_inflate(out):
    """Raw DEFLATE streams (the first two bytes are the size asked for when zlib rejects one):
    stored, fixed and dynamic blocks, silhouette-like rows of long zero runs, several blocks."""

    def raw(data, level=9, strategy=zlib.Z_DEFAULT_STRATEGY, flush_every=0):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        if not flush_every:
            return c.compress(data) + c.flush()
        b = b"".join(c.compress(data[i:i + flush_every]) + c.flush(zlib.Z_FULL_FLUSH) for i in range(0, len(data), flush_every))
        return b + c.flush()

    rows = b"".join(b"\x00" + bytes(255 if 20 <= x < 30 + y % 5 else 0 for x in range(64)) for y in range(64))
    seeds = {
        "stored": raw(bytes(range(200)), level=0),
        "fixed": raw(b"abcabcabcabc" * 20, strategy=zlib.Z_FIXED),
        "dynamic": raw(rows),
        "rle": raw(rows, strategy=zlib.Z_RLE),
        "huffman_only": raw(bytes(range(256)) * 2, strategy=zlib.Z_HUFFMAN_ONLY),
        "multi_block": raw(rows, flush_every=500),
        "empty": raw(b""),
        "long_match": raw(bytes(20000)),
    }
    for name, s in seeds.items():
        put(out, "inflate", f"{name}.deflate", struct.pack("<H", 123) + s)


# ---- keypoints -----------------------------------------------------------------------------------------------


def make_pose(out):
    # The first byte picks the reader: 0 JSON, 1 .npy, 2 .pkl (see fuzz_pose.c).
    kp = [[[10.0 + j + t, 20.0 + 3 * j, 0.9] for j in range(17)] for t in range(3)]
    kp[1][5] = [0.0, 0.0, 0.0]  # a missing joint, filled from the other frames
    js = lambda o: b"\x00" + json.dumps(o, separators=(",", ":")).encode()
    put(out, "pose", "nested.json", js({"frames": [{"keypoints": f} for f in kp]}))
    put(out, "pose", "flat.json", js({"frames": [{"keypoints": [v for p in f for v in p]} for f in kp]}))
    put(out, "pose", "bare_array.json", js(kp[:2]))
    put(out, "pose", "empty_frame.json", js({"frames": [{"keypoints": []}, {"keypoints": kp[0]}, {}]}))
    put(out, "pose", "coco18.json", js({"frames": [{"keypoints": [[5.0 + j, 8.0 * j, 1.0] for j in range(18)]}]}))
    arr = np.array(kp, dtype=np.float32)
    put(out, "pose", "tvc.npy", b"\x01" + npy_bytes(arr))
    put(out, "pose", "flat_f64.npy", b"\x01" + npy_bytes(arr.reshape(3, 51).astype(np.float64)))
    put(out, "pose", "int.npy", b"\x01" + npy_bytes(arr.astype(np.int32)))
    put(out, "pose", "keypoints.pkl", b"\x02" + pickle.dumps(arr, protocol=4))
    put(out, "pose", "keypoints_f16.pkl", b"\x02" + pickle.dumps(arr[:1].astype(np.float16), protocol=2))


# ---- OpenGait configs --------------------------------------------------------------------------------------------


GAITBASE_YAML = """\
data_cfg:
  dataset_name: CASIA-B
  dataset_root: your_path
  num_workers: 1
evaluator_cfg:
  enable_float16: true
  restore_ckpt_strict: true
  restore_hint: 60000
  save_name: GaitBase_DA
  sampler:
    batch_size: 16
    sample_type: all_ordered
    type: InferenceSampler
  transform:
    - type: BaseSilCuttingTransform
loss_cfg:
  - loss_term_weight: 1.0
    margin: 0.2
    type: TripletLoss
    log_prefix: triplet
model_cfg:
  model: Baseline
  backbone_cfg:
    type: ResNet9
    block: BasicBlock
    channels: # Layers configuration for automatically model construction
      - 64
      - 128
      - 256
      - 512
    layers:
      - 1
      - 1
      - 1
      - 1
    strides:
      - 1
      - 2
      - 2
      - 1
    maxpool: false
  SeparateFCs:
    in_channels: 512
    out_channels: 256
    parts_num: 16
  SeparateBNNecks:
    class_num: 74
    in_channels: 256
    parts_num: 16
  bin_num:
    - 16
"""

DEEPGAITV2_YAML = """\
model_cfg:
  model: DeepGaitV2
  Backbone:
    in_channels: 1
    mode: p3d
    layers: [1, 4, 4, 1]
    channels: [64, 128, 256, 512]
  SeparateBNNecks:
    class_num: 3000
  bin_num: [16]
  use_emb2: false
"""

SKELETON_YAML = """\
model_cfg:
  model: SkeletonGaitPP
  backbone_cfg: &bb
    type: ResNet9
    in_channel: 2
    channels: [64, 128, 256, 512]
    layers: [1, 4, 4, 1]
    strides: [1, 2, 2, 1]
  copy: *bb
  bin_num:
    - [16]
  SeparateFCs: {in_channels: 512, out_channels: 256, parts_num: 16}
"""


def make_config(out):
    put(out, "config", "gaitbase.yaml", GAITBASE_YAML.encode())
    put(out, "config", "deepgaitv2.yaml", DEEPGAITV2_YAML.encode())
    put(out, "config", "skeletongaitpp_anchors.yaml", SKELETON_YAML.encode())
    put(out, "config", "flow.yaml", b'{model_cfg: {model: "GaitGL", backbone_cfg: {type: \'x\', channels: [32, 64, 128]}, '
                                     b'SeparateFCs: {parts_num: 64}, use_emb2: True}}\n')
    put(out, "config", "merge_multidoc.yaml",
        b"base: &b {in_channel: 1, mode: 2d}\nmodel_cfg:\n  backbone_cfg:\n    <<: *b\n    layers: !!seq [1, 1]\n---\nsecond: doc\n")
    put(out, "config", "no_model_cfg.yaml", b"data_cfg: {dataset_name: x}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    args = ap.parse_args()
    torch.manual_seed(0)
    for make in (make_zip, make_ckpt, make_safetensors, make_npy, make_pickle, make_pkl, make_image, make_inflate, make_pose,
                 make_config):
        make(args.outdir)
    for parser, n in sorted(written.items()):
        d = os.path.join(args.outdir, parser)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{parser}: {n} seeds, {size} bytes")


if __name__ == "__main__":
    main()

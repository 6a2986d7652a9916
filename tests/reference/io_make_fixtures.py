#!/usr/bin/env python3
"""io_make_fixtures.py — writes the reference files for the tests of src/io/ (tests/io/).

Run by CTest as a fixture: `io_make_fixtures.py OUTDIR`. It writes torch checkpoints in the
shapes OpenGait and other trainers produce, pickled numpy arrays and torch tensors, .npy and
safetensors files, hostile pickles, and for each readable file a reference in our GRTREF01
format (magic, version, then name/dtype/shape/data of every tensor the C side must see).

It is not a test by itself: it only writes files, then `fixtures.ok`. Exits 77 when torch or
numpy is missing, so CTest reports the dependent tests as skipped rather than passed.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: io fixtures need torch and numpy ({e})")
    sys.exit(77)

MAGIC = b"GRTREF01"
VERSION = 1

NP_NAMES = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
    torch.bool: "bool",
}


def write_ref(path, items):
    """items: list of (name, expected dtype name, src dtype name, np array with expected values)."""
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<II", VERSION, len(items)))
        for name, dt, src, arr in items:
            arr = np.array(arr, order="C", copy=True)  # (ascontiguousarray would make 0-d arrays 1-d)
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb)
            for s in (dt, src):
                sb = s.encode()
                f.write(struct.pack("<I", len(sb)) + sb)
            f.write(struct.pack("<I", arr.ndim))
            for d in arr.shape:
                f.write(struct.pack("<q", d))
            data = arr.tobytes()
            f.write(struct.pack("<Q", len(data)))
            f.write(data)


def expected_loaded(t, widen=True):
    """What the C loader returns: contiguous, floats widened to float32 (when widen), ints kept."""
    src = NP_NAMES[t.dtype]
    t = t.detach().contiguous()
    if widen and t.is_floating_point():
        return "float32", src, t.float().numpy()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: ship the raw 16-bit patterns
        return "bfloat16", src, t.view(torch.int16).numpy().view(np.uint16)
    return src, src, t.numpy()


def sd_ref(sd, strip=""):
    items = []
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        dt, src, arr = expected_loaded(v)
        items.append((k[len(strip):] if strip and k.startswith(strip) else k, dt, src, arr))
    return items


class TinyGait(torch.nn.Module):
    """A few layers with OpenGait's key names (SetBlockWrapper, BasicConv2d, BN, SeparateFCs)."""

    def __init__(self):
        super().__init__()
        self.Backbone = torch.nn.Module()
        self.Backbone.forward_block = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
        self.FCs = torch.nn.Module()
        self.FCs.fc_bin = torch.nn.Parameter(torch.randn(2, 4, 3))

    def forward(self, x):
        y = self.Backbone.forward_block(x).mean(dim=(2, 3))  # (N, 4)
        return torch.einsum("ni,pij->npj", y, self.FCs.fc_bin)


def opengait_checkpoint(out):
    torch.manual_seed(0)
    model = TinyGait()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sch = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10, 20], gamma=0.1)
    model.train()
    loss = model(torch.randn(2, 1, 8, 8)).pow(2).sum()
    loss.backward()
    opt.step()
    sch.step()
    sd = model.state_dict()  # OrderedDict with _metadata
    # Extra entries for the dtype and layout paths the loader has to handle.
    sd["extra.half"] = torch.randn(3, 5).half()
    sd["extra.bf16"] = torch.randn(4, 2).bfloat16()
    sd["extra.f64"] = torch.randn(2, 2).double()
    sd["extra.i32"] = torch.arange(-5, 7, dtype=torch.int32).view(3, 4)
    sd["extra.i16"] = torch.arange(-300, 300, 97, dtype=torch.int16)
    sd["extra.i8"] = torch.arange(-8, 8, dtype=torch.int8)
    sd["extra.u8"] = torch.arange(0, 250, 7, dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.transposed"] = torch.randn(5, 7).t()  # non-contiguous, stride (1, 7)
    base = torch.arange(100, dtype=torch.float32) * 0.5
    sd["view.a"] = base[10:30].view(4, 5)  # storage offset 10, shares the storage
    sd["view.b"] = base[50:60]             # offset 50
    sd["view.c"] = base.view(10, 10)[:, 2]  # offset 2, stride 10
    sd["extra.scalar"] = torch.tensor(3.5)
    sd["extra.empty"] = torch.zeros(0, 3)
    ckpt = {"model": sd, "optimizer": opt.state_dict(), "scheduler": sch.state_dict(), "iteration": 1000}
    assert isinstance(ckpt["scheduler"]["milestones"], collections.Counter)
    torch.save(ckpt, os.path.join(out, "ckpt_opengait.pt"))
    write_ref(os.path.join(out, "ckpt_opengait.ref"), sd_ref(sd))
    return sd


def other_checkpoints(out, sd):
    small = collections.OrderedDict((k, v) for k, v in list(sd.items())[:6])
    mod = collections.OrderedDict(("module." + k, v) for k, v in small.items())
    torch.save({"state_dict": mod, "epoch": 3}, os.path.join(out, "ckpt_module.pt"))
    write_ref(os.path.join(out, "ckpt_module.ref"), sd_ref(small))
    torch.save(small, os.path.join(out, "ckpt_plain.pt"))
    write_ref(os.path.join(out, "ckpt_plain.ref"), sd_ref(small))
    # The same archive with every entry deflated (as a zip program re-packing it would).
    with zipfile.ZipFile(os.path.join(out, "ckpt_plain.pt")) as zin, \
            zipfile.ZipFile(os.path.join(out, "ckpt_deflate.pt"), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    torch.save(small, os.path.join(out, "ckpt_legacy.pt"), _use_new_zipfile_serialization=False)
    # A checkpoint without tensors where we look for them.
    torch.save({"epoch": 1, "config": {"lr": 0.1}}, os.path.join(out, "ckpt_notensors.pt"))
    # A whole pickled module: refused (it calls classes outside the allow-list).
    torch.save(torch.nn.Linear(2, 2), os.path.join(out, "ckpt_module_object.pt"))


def torch_pickles(out):
    torch.manual_seed(1)
    cases = {
        "tp_f32": torch.randn(3, 4, 5),
        "tp_transposed": torch.randn(4, 6).t(),
        "tp_i64": torch.arange(-10, 14).view(2, 3, 4),
        "tp_f16": torch.randn(2, 8).half(),
        "tp_u8": (torch.rand(4, 64, 44) > 0.5).to(torch.uint8) * 255,
        "tp_view": torch.arange(60, dtype=torch.float32)[7:31].view(4, 6),
    }
    for name, t in cases.items():
        with open(os.path.join(out, name + ".pkl"), "wb") as f:
            pickle.dump(t, f)  # storages go through torch.storage._load_from_bytes (legacy blob)
        dt, src, arr = expected_loaded(t, widen=False)
        write_ref(os.path.join(out, name + ".ref"), [(name, dt, src, arr)])
    # torch.save(tensor) under a .pkl name: a zip archive whose data.pkl is the tensor.
    t = torch.randn(2, 3, 4).transpose(0, 2)
    torch.save(t, os.path.join(out, "tp_zip.pkl"))
    dt, src, arr = expected_loaded(t, widen=False)
    write_ref(os.path.join(out, "tp_zip.ref"), [("tp_zip", dt, src, arr)])


NP_DTYPES = ["f4", "f8", "f2", "u1", "i1", "i2", "i4", "i8", "b1"]


def np_array(code, shape, seed):
    rng = np.random.default_rng(seed)
    if code[0] == "f":
        return (rng.standard_normal(shape) * 10).astype("<" + code)
    if code == "b1":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(np.dtype(code))
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(np.dtype(code).newbyteorder("<"))


def np_ref(arr):
    name = {"b": "bool"}.get(arr.dtype.kind, arr.dtype.name)
    return [("array", name, name, arr)]


def numpy_pickles(out):
    refs = []
    for i, code in enumerate(NP_DTYPES):
        a = np_array(code, (3, 4, 5), i)
        for proto in range(0, 6):
            name = f"np_{code}_p{proto}"
            with open(os.path.join(out, name + ".pkl"), "wb") as f:
                pickle.dump(a, f, protocol=proto)
            write_ref(os.path.join(out, name + ".ref"), np_ref(a))
            refs.append(name)
    extra = {
        "np_fortran": np.asfortranarray(np_array("f4", (3, 4, 5), 20)),
        "np_fortran_i2": np.asfortranarray(np_array("i2", (6, 7), 21)),
        "np_scalar": np.array(2.5, dtype=np.float64),
        "np_empty": np.zeros((0, 64, 64), dtype=np.uint8),
        "np_sil": (np.random.default_rng(22).random((10, 64, 64)) > 0.5).astype(np.uint8) * 255,
    }
    for name, a in extra.items():
        for proto in (2, 4, 5):
            fn = f"{name}_p{proto}"
            with open(os.path.join(out, fn + ".pkl"), "wb") as f:
                pickle.dump(a, f, protocol=proto)
            write_ref(os.path.join(out, fn + ".ref"), np_ref(a))
    # numpy 2 names its module numpy._core; protocol 2 spells globals out as text lines.
    a = np_array("f4", (2, 3), 23)
    p = pickle.dumps(a, protocol=2).replace(b"numpy.core.multiarray\n", b"numpy._core.multiarray\n")
    assert b"numpy._core" in p
    with open(os.path.join(out, "np_numpy2_p2.pkl"), "wb") as f:
        f.write(p)
    write_ref(os.path.join(out, "np_numpy2_p2.ref"), np_ref(a))
    # Not an array: a list of arrays is refused with a clear message.
    with open(os.path.join(out, "np_list.pkl"), "wb") as f:
        pickle.dump([a, a], f, protocol=2)


def npy_files(out):
    for i, code in enumerate(NP_DTYPES):
        a = np_array(code, (2, 3, 4), 40 + i)
        np.save(os.path.join(out, f"npy_{code}.npy"), a)
        write_ref(os.path.join(out, f"npy_{code}.ref"), np_ref(a))
    extra = {
        "npy_fortran": np.asfortranarray(np_array("f4", (3, 4, 5), 50)),
        "npy_fortran_i8": np.asfortranarray(np_array("i8", (5, 2), 51)),
        "npy_scalar": np.array(7, dtype=np.int32),
        "npy_empty": np.zeros((0, 3), dtype=np.float32),
    }
    for name, a in extra.items():
        np.save(os.path.join(out, name + ".npy"), a)
        write_ref(os.path.join(out, name + ".ref"), np_ref(a))
    for ver in ((2, 0), (3, 0)):
        a = np_array("f8", (4, 3), 60 + ver[0])
        name = f"npy_v{ver[0]}"
        with open(os.path.join(out, name + ".npy"), "wb") as f:
            np.lib.format.write_array(f, a, version=ver)
        write_ref(os.path.join(out, name + ".ref"), np_ref(a))
    np.save(os.path.join(out, "npy_bigendian.npy"), np.arange(6, dtype=">f4"))
    np.save(os.path.join(out, "npy_structured.npy"), np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))


def safetensors_file(out):
    """Written by hand (the safetensors package is not a dependency), as its spec says."""
    torch.manual_seed(3)
    ts = collections.OrderedDict([
        ("w.f32", torch.randn(3, 4)), ("w.f16", torch.randn(5).half()), ("w.bf16", torch.randn(2, 3).bfloat16()),
        ("w.f64", torch.randn(2).double()), ("w.i64", torch.arange(-3, 3)), ("w.i32", torch.arange(4, dtype=torch.int32)),
        ("w.i16", torch.arange(-2, 2, dtype=torch.int16)), ("w.i8", torch.arange(-4, 4, dtype=torch.int8)),
        ("w.u8", torch.arange(0, 200, 40, dtype=torch.uint8)), ("w.bool", torch.tensor([True, False])),
        ("w.scalar", torch.tensor(1.25)), ("w.empty", torch.zeros(0, 2)),
    ])
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}
    header = {"__metadata__": {"format": "pt", "note": "written by io_make_fixtures.py"}}
    blobs, off = [], 0
    for k in sorted(ts):  # the safetensors package writes keys sorted, data in that order
        t = ts[k].contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, "st_python.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    write_ref(os.path.join(out, "st_python.ref"), [(k, *expected_loaded(ts[k])) for k in sorted(ts)])


class _Evil:
    """Pickles as a call of `fn(*args)`: what a hostile file does to run code on load."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def hostile_pickles(out):
    import subprocess
    marker = os.path.join(out, "evil_ran")
    cases = {
        "evil_system": _Evil(os.system, (f"touch {marker}_system",)),
        "evil_eval": _Evil(eval, (f"open('{marker}_eval', 'w')",)),
        "evil_popen": _Evil(subprocess.Popen, (["touch", f"{marker}_popen"],)),
    }
    for name, obj in cases.items():
        for proto in (2, 4):
            with open(os.path.join(out, f"{name}_p{proto}.pkl"), "wb") as f:
                pickle.dump(obj, f, protocol=proto)
    # Proof that payloads of this shape are real: Python's own pickle.load runs this one.
    proof = os.path.join(out, "evil_proof_ran")
    pickle.loads(pickle.dumps(_Evil(os.system, (f"touch {proof}",)), protocol=2))
    assert os.path.exists(proof), "python did not run the payload"
    os.remove(proof)
    # The same payload tucked into a checkpoint's optimizer entry: a zip with a good model.
    sd = collections.OrderedDict(w=torch.ones(2))
    torch.save({"model": sd, "optimizer": _Evil(os.system, (f"touch {marker}_ckpt",))},
               os.path.join(out, "evil_ckpt.pt"))


def main():
    if len(sys.argv) != 2:
        print("usage: io_make_fixtures.py OUTDIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(out):
        if fn.startswith("evil_ran"):
            os.remove(os.path.join(out, fn))
    ok = os.path.join(out, "fixtures.ok")
    if os.path.exists(ok):
        os.remove(ok)
    sd = opengait_checkpoint(out)
    other_checkpoints(out, sd)
    torch_pickles(out)
    numpy_pickles(out)
    npy_files(out)
    safetensors_file(out)
    hostile_pickles(out)
    with open(ok, "w") as f:
        f.write(f"torch {torch.__version__} numpy {np.__version__}\n")
    print(f"io fixtures written to {out} (torch {torch.__version__}, numpy {np.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

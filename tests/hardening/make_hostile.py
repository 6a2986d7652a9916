#!/usr/bin/env python3
"""make_hostile.py — writes hostile checkpoints and dataset files for the end-to-end tests of
tests/hardening/ (test_hostile_e2e.c through the C API, test_hostile_cli.py through `gaitrt`).

    make_hostile.py OUTDIR

Only the standard library is used: every file is built opcode by opcode and zip record by zip
record, so this runs (and the tests run) on a machine without torch. Each file is a working
torch-style archive (data.pkl with persistent ids, data/<key> storages) with exactly one
hostile element; its benign twin `benign.pt` differs only in that element and must get past
every parser (it fails later, as a state dict that fits no model).

It writes OUTDIR/manifest.tsv, one case per line:

    kind<TAB>file<TAB>expected gaitrt_status<TAB>text the message must contain

kind is `model` (gaitrt_model_load, `gaitrt info -m`) or `array` (a dataset .pkl read for a
sequence). Every payload that would run a command runs `touch OUTDIR/PWNED_<case>`; the tests
check afterwards that no such file exists. As a control, the plain os.system payload is also
given to Python's own pickle.loads, which does run it and leaves OUTDIR/proof_payload_runs: the
payloads are real, so their absence proves gaitrt ran none of them.

It is not a fuzzer (tests/fuzz/ is) and does not repeat the io unit tests' cases one by one: it
covers each family of attack once, through the public entry points.
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

# gaitrt_status values (include/gaitrt.h)
FORMAT, UNSUPPORTED, REFUSED, MODEL, LIMIT = 3, 4, 5, 6, 10

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class P:
    """A pickle written opcode by opcode (protocol 2 unless said otherwise)."""

    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))

    def op(self, raw):
        self.b += raw
        return self

    def glob(self, module, name):
        return self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def s(self, text):
        t = text.encode()
        return self.op(b"X" + struct.pack("<I", len(t)) + t)

    def i(self, v):
        if 0 <= v < 256:
            return self.op(b"K" + bytes([v]))
        if -2 ** 31 <= v < 2 ** 31:
            return self.op(b"J" + struct.pack("<i", v))
        n = (v.bit_length() + 8) // 8
        return self.op(b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True))

    def ints(self, vals):
        self.op(b"(")
        for v in vals:
            self.i(v)
        return self.op(b"t")

    def mark(self):
        return self.op(b"(")

    def tensor(self, key, numel, size, stride, offset=0, cls="FloatStorage"):
        """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())"""
        self.glob("torch._utils", "_rebuild_tensor_v2").mark()
        self.mark().s("storage").glob("torch", cls).s(key).s("cpu").i(numel).op(b"tQ")
        self.i(offset).ints(size).ints(stride).op(b"\x89")
        self.glob("collections", "OrderedDict").op(b")R")
        return self.op(b"tR")

    def call(self, module, name, *args):
        """module.name(*args) with str arguments, as REDUCE."""
        self.glob(module, name).mark()
        for a in args:
            if isinstance(a, list):
                self.op(b"]").mark()
                for x in a:
                    self.s(x)
                self.op(b"e")
            else:
                self.s(a)
        return self.op(b"tR")

    def done(self):
        return bytes(self.b + b".")


def zip_archive(entries, method=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = method
            z.writestr(info, data)
    return b.getvalue()


def torch_zip(data_pkl, storages, method=zipfile.ZIP_STORED):
    entries = [("archive/data.pkl", data_pkl)]
    entries += [(f"archive/data/{k}", v) for k, v in storages.items()]
    entries.append(("archive/version", b"3\n"))
    return zip_archive(entries, method)


W = struct.pack("<6f", 1, 2, 3, 4, 5, 6)  # storage '0': 6 floats


def state_dict(p, extra=None, tensor=None):
    """{'model': {'w': <tensor>}, 'iteration': 1 [, 'optimizer': extra]}; extra and tensor are
    functions that write their value into p."""
    p.op(b"}").mark()
    p.s("model").op(b"}").mark().s("w")
    if tensor:
        tensor(p)
    else:
        p.tensor("0", 6, [2, 3], [3, 1])
    p.op(b"u")
    p.s("iteration").i(1)
    if extra:
        p.s("optimizer")
        extra(p)
    return p.op(b"u").done()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.startswith(("PWNED", "proof_")):
            os.remove(os.path.join(out, f))
    cases = []

    def marker(name):
        return os.path.join(out, "PWNED_" + name)

    def add(kind, name, data, status, says):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        cases.append((kind, name, status, says))

    def ckpt(name, status, says, extra=None, tensor=None, storages=None):
        add("model", name, torch_zip(state_dict(P(), extra, tensor), storages if storages is not None else {"0": W}), status, says)

    # The benign twin: parses completely, fits no architecture.
    ckpt("benign.pt", MODEL, "")

    # ---- code execution, in the optimizer part of an otherwise valid checkpoint ----
    ckpt("evil_system.pt", REFUSED, "posix.system", lambda p: p.call("posix", "system", "touch " + marker("system")))
    ckpt("evil_os_system.pt", REFUSED, "os.system", lambda p: p.call("os", "system", "touch " + marker("os_system")))
    ckpt("evil_eval.pt", REFUSED, "builtins.eval",
         lambda p: p.call("builtins", "eval", f"open({marker('eval')!r}, 'w')"))
    ckpt("evil_exec_py2.pt", REFUSED, "builtins.exec",
         lambda p: p.call("__builtin__", "exec", f"import os; os.system('touch {marker('exec')}')"))
    ckpt("evil_popen.pt", REFUSED, "subprocess.Popen",
         lambda p: p.call("subprocess", "Popen", ["touch", marker("popen")]))
    ckpt("evil_commands.pt", REFUSED, "subprocess.getoutput",
         lambda p: p.call("commands", "getoutput", "touch " + marker("commands")))

    def newobj_popen(p):
        p.glob("subprocess", "Popen").mark().op(b"]").mark().s("touch").s(marker("newobj")).op(b"e").op(b"t\x81")

    ckpt("evil_newobj.pt", REFUSED, "instantiate subprocess.Popen", newobj_popen)

    def getattr_chain(p):  # builtins.getattr(builtins.__import__('os'), 'system')('touch ...')
        p.glob("builtins", "getattr").mark()
        p.call("builtins", "__import__", "os").s("system").op(b"tR")
        p.mark().s("touch " + marker("getattr")).op(b"tR")

    ckpt("evil_getattr.pt", REFUSED, "builtins.__import__", getattr_chain)
    ckpt("not_allowed_reduce.pt", REFUSED, "collections.namedtuple",
         lambda p: p.call("collections", "namedtuple", "T", "a b"))
    ckpt("whole_model_reduce.pt", REFUSED, "torch.nn.modules.conv.Conv2d",
         lambda p: p.call("torch.nn.modules.conv", "Conv2d"))

    # ---- resource attacks on the pickle machine ----
    ckpt("deep_nesting.pt", LIMIT, "nests deeper", lambda p: p.op(b"(" * 5000))
    ckpt("huge_string.pt", FORMAT, "string", lambda p: p.op(b"\x8d" + struct.pack("<Q", 1 << 62)))
    ckpt("huge_bytes.pt", FORMAT, "string", lambda p: p.op(b"B" + struct.pack("<I", 0xFFFFFFF0)))
    ckpt("memo_huge_index.pt", LIMIT, "memo index", lambda p: p.op(b"N" + b"r" + struct.pack("<I", 0xFFFFFFF0)))
    ckpt("memo_unset.pt", FORMAT, "memo slot", lambda p: p.op(b"j" + struct.pack("<I", 123456)))
    ckpt("stack_underflow.pt", FORMAT, "underflow", lambda p: p.op(b"0" * 40))

    # ---- storages and views ----
    ckpt("storage_huge_numel.pt", FORMAT, "declares",
         tensor=lambda p: p.tensor("0", 1 << 40, [2, 3], [3, 1]))
    ckpt("storage_missing.pt", FORMAT, "no entry", tensor=lambda p: p.tensor("9", 6, [2, 3], [3, 1]))
    ckpt("stride_outside.pt", FORMAT, "outside its storage", tensor=lambda p: p.tensor("0", 6, [2, 3], [3, 1], offset=1))
    ckpt("stride_negative.pt", FORMAT, "negative stride", tensor=lambda p: p.tensor("0", 6, [2, 3], [-3, 1]))
    ckpt("stride_overflow.pt", FORMAT, "outside its storage",
         tensor=lambda p: p.tensor("0", 6, [2, 3], [1 << 62, 1 << 62]))
    ckpt("view_expand_bomb.pt", LIMIT, "far more than the file holds",
         tensor=lambda p: p.tensor("0", 6, [1 << 20, 1 << 20], [0, 0]))
    ckpt("storage_size_clash.pt", FORMAT, "two sizes",
         tensor=lambda p: (p.op(b"(").tensor("0", 6, [2, 3], [3, 1]).tensor("0", 5, [5], [1]).op(b"t")))

    # ---- the zip container ----
    good = torch_zip(state_dict(P()), {"0": W})
    add("model", "truncated.pt", good[: len(good) // 2], FORMAT, "end-of-central-directory")
    bad_crc = bytearray(good)
    bad_crc[good.index(b"archive/data.pkl") + len("archive/data.pkl") + 5] ^= 0x20  # a byte of data.pkl
    add("model", "crc_mismatch.pt", bytes(bad_crc), FORMAT, "CRC mismatch")
    z = zipfile.ZipFile(io.BytesIO(good))
    cd = bytearray(good)
    first_central = good.index(b"PK\x01\x02")
    struct.pack_into("<I", cd, first_central + 42, len(good) + 1000)  # local header offset past the end
    add("model", "local_header_outside.pt", bytes(cd), FORMAT, "out of range")
    del z

    # One deflated data.pkl that claims to inflate to 4 GB: refused before any inflating.
    pk = state_dict(P())
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = comp.compress(pk) + comp.flush()
    bomb = bytearray(torch_zip(pk, {"0": W}, zipfile.ZIP_DEFLATED))
    for sig, size_off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = bomb.index(sig)
        struct.pack_into("<I", bomb, at + size_off, 0xFFFFFFF0)
    add("model", "zip_bomb_entry.pt", bytes(bomb), LIMIT, "zip bomb")

    # A real bomb: 300 members of 1 MB of zeros, each about 1 KB deflated (a plausible ratio on
    # its own), 300 MB in all from a 330 KB file. We deflate the megabyte once and write the
    # zip records ourselves.
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = comp.compress(bytes(1 << 20)) + comp.flush()
    members = [("archive/data.pkl", 0, zlib.crc32(pk), len(pk), pk), ("archive/data/0", 0, zlib.crc32(W), len(W), W)]
    members += [(f"archive/pad/{i}", 8, zlib.crc32(bytes(1 << 20)), 1 << 20, zeros) for i in range(300)]
    body, central = bytearray(), bytearray()
    for name, method, crc, size, data in members:
        n = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(n), 0, 0, 0, 0, 0, len(body)) + n
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(n), 0) + n + data
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    add("model", "zip_bomb_many.pt", bytes(body + central + eocd), LIMIT, "zip bomb")

    # ---- other formats given as checkpoints ----
    st_hdr = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}

    def safetensors(header, data):
        h = json.dumps(header).encode()
        return struct.pack("<Q", len(h)) + h + data

    add("model", "st_overlap.safetensors", safetensors(st_hdr, bytes(12)), FORMAT, "overlap")
    add("model", "st_outside.safetensors",
        safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)), FORMAT, "outside")
    add("model", "st_huge_shape.safetensors",
        safetensors({"a": {"dtype": "F32", "shape": [1 << 31, 1 << 31, 1 << 31], "data_offsets": [0, 4]}}, bytes(4)),
        FORMAT, "does not match its shape")
    deep = b'{"a":' + b"[" * 200 + b"]" * 200 + b"}"
    add("model", "st_deep_json.safetensors", struct.pack("<Q", len(deep)) + deep, LIMIT, "nests deeper")
    legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03."
    add("model", "legacy.pt", legacy + bytes(64), UNSUPPORTED, "legacy")
    plain_evil = P().call("posix", "system", "touch " + marker("plain")).done()
    add("model", "plain_pickle.pt", plain_evil, FORMAT, "plain pickle")

    # ---- dataset .pkl files (what `gaitrt embed` reads for a sequence) ----
    add("array", "evil_array.pkl", P().call("posix", "system", "touch " + marker("array")).done(), REFUSED, "posix.system")

    def legacy_storage(p, numel, data):
        """torch.storage._load_from_bytes(<legacy blob of one float storage>)"""
        blob = P().op(b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19").done()
        blob += P().i(1001).done()
        blob += P().op(b"}").s("little_endian").op(b"\x88s").done()
        blob += P().mark().s("storage").glob("torch", "FloatStorage").s("0").s("cpu").i(numel).op(b"NtQ").done()
        blob += P().op(b"]").s("0").op(b"a").done()
        blob += struct.pack("<Q", numel) + data
        p.glob("torch.storage", "_load_from_bytes").mark().op(b"B" + struct.pack("<I", len(blob)) + blob).op(b"tR")

    def expand_pkl(size, stride):
        p = P().glob("torch._utils", "_rebuild_tensor_v2").mark()
        legacy_storage(p, 1, struct.pack("<f", 1.0))
        p.i(0).ints(size).ints(stride).op(b"\x89").glob("collections", "OrderedDict").op(b")R").op(b"tR")
        return p.done()

    add("array", "expand_bomb.pkl", expand_pkl([1 << 14, 1 << 14, 1 << 6], [0, 0, 0]), LIMIT, "far more")
    add("array", "array_stride_outside.pkl", expand_pkl([2, 2], [1, 1]), FORMAT, "outside its storage")

    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        for kind, name, status, says in cases:
            f.write(f"{kind}\t{name}\t{status}\t{says}\n")

    # The control: Python's own unpickler runs our payload, so the payloads are real.
    proof = os.path.join(out, "proof_payload_runs")
    pickle.loads(P().call("posix", "system", "touch " + proof).done())
    if not os.path.exists(proof):
        print("make_hostile.py: the control payload did not run under Python's pickle", file=sys.stderr)
        sys.exit(1)
    print(f"make_hostile.py: {len(cases)} files in {out}")


if __name__ == "__main__":
    main()

"""Bad input through `gaitrt embed` / `gaitrt info`: truncated and bit-flipped checkpoints, a
zip that is not a torch checkpoint, a pickle that calls os.system, wrong shapes, an empty
sequence, NaN, a missing file. Each must exit non-zero (not by a signal) with exactly one
line on stderr that names the file. Only the standard library is used to make the files.

usage: test_cli_errors.py GAITRT REFDIR WORKDIR
"""
import os
import struct
import subprocess
import sys
import zipfile

gaitrt, refdir, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
ckpt = os.path.join(refdir, "gaitbase_small.pt")
if not os.path.exists(ckpt):
    print("SKIPPED: no reference checkpoint (PyTorch missing?)", file=sys.stderr)
    sys.exit(77)
good_in = os.path.join(refdir, "gaitbase_small_t7_in.npy")
failures = 0


def npy(path, dtype, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, repr(tuple(shape)))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)


def run(name, args, must_name):
    global failures
    p = subprocess.run([gaitrt] + args, capture_output=True, text=True, timeout=120)
    # warnings (fallbacks) are reported on their own lines; the error itself is one line
    lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("gaitrt: warning:")]
    ok = p.returncode > 0 and p.returncode < 128 and len(lines) == 1 and must_name in lines[0] \
        and "Sanitizer" not in p.stderr
    print(f"{'ok ' if ok else 'BAD'} {name}: exit {p.returncode}: {p.stderr.strip()[:300]}")
    if not ok:
        failures += 1


data = open(ckpt, "rb").read()
trunc = os.path.join(work, "truncated.pt")
open(trunc, "wb").write(data[: len(data) // 2])
run("truncated checkpoint", ["embed", "-m", trunc, "--tensor", good_in, "-o", os.path.join(work, "o.npy")], "truncated.pt")

for i, frac in enumerate((0.0005, 0.3, 0.9)):
    flipped = bytearray(data)
    pos = int(len(data) * frac)
    flipped[pos] ^= 0xFF
    path = os.path.join(work, f"flipped{i}.pt")
    open(path, "wb").write(bytes(flipped))
    p = subprocess.run([gaitrt, "info", "-m", path], capture_output=True, text=True, timeout=120)
    # a flip inside raw tensor bytes is undetectable (still a valid file); anything else must fail cleanly
    crashed = p.returncode < 0 or p.returncode >= 128 or "Sanitizer" in p.stderr
    print(f"{'BAD' if crashed else 'ok '} bit flip at {pos}: exit {p.returncode} {p.stderr.strip()[:200]}")
    failures += crashed

notorch = os.path.join(work, "notorch.zip")
with zipfile.ZipFile(notorch, "w") as z:
    z.writestr("readme.txt", "hello")
run("zip that is not a checkpoint", ["info", "-m", notorch], "notorch.zip")

# protocol-2 pickle: os.system('touch PWNED') via GLOBAL + REDUCE, inside a zip like torch's
marker = os.path.join(work, "PWNED")
if os.path.exists(marker):
    os.remove(marker)
evil_pkl = b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len("touch " + marker)) + ("touch " + marker).encode() \
    + b"q\x01\x85q\x02Rq\x03."
evil = os.path.join(work, "evil.pt")
with zipfile.ZipFile(evil, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", evil_pkl)
    z.writestr("archive/version", "3\n")
run("pickle calling os.system", ["info", "-m", evil], "evil.pt")
if os.path.exists(marker):
    print("BAD: the hostile pickle executed a command")
    failures += 1

wrong = os.path.join(work, "wrong_shape.npy")
npy(wrong, "<f4", (1, 5, 32, 32), b"\0" * (5 * 32 * 32 * 4))
run("wrong input shape", ["embed", "-m", ckpt, "--tensor", wrong, "-o", os.path.join(work, "o.npy")], "wrong_shape.npy")

empty = os.path.join(work, "empty_seq.npy")
npy(empty, "|u1", (0, 64, 64), b"")
run("empty sequence", ["embed", "-m", ckpt, "-o", os.path.join(work, "o.npy"), empty], "empty_seq.npy")

nan = os.path.join(work, "nan.npy")
npy(nan, "<f4", (1, 3, 64, 44), struct.pack("<f", float("nan")) * (3 * 64 * 44))
run("NaN input", ["embed", "-m", ckpt, "--tensor", nan, "-o", os.path.join(work, "o.npy")], "non-finite")

run("missing checkpoint", ["info", "-m", os.path.join(work, "nope.pt")], "nope.pt")
text = os.path.join(work, "text.pt")
open(text, "w").write("this is not a checkpoint\n")
run("text file as checkpoint", ["info", "-m", text], "text.pt")

print("test_cli_errors:", "OK" if failures == 0 else f"NOT OK ({failures} failures)")
sys.exit(1 if failures else 0)

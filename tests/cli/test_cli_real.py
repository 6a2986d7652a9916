"""The command line on real OpenGait data (../shared/data/opengait-pkl): `gaitrt embed` on a
.pkl array, on a sequence folder and on a dataset root (--dataset, in OpenGait's order, with
labels) gives the same embeddings as `--tensor` on the test-transformed array (cut 10
columns each side, /255) computed here with numpy; `--config` with an OpenGait YAML that
agrees loads, one that disagrees is refused; `gaitrt info` reports the architecture.

usage: test_cli_real.py GAITRT REFDIR SHARED_DATA WORKDIR
"""
import os
import pickle
import subprocess
import sys

gaitrt, refdir, shared, work = sys.argv[1:5]
try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy missing", file=sys.stderr)
    sys.exit(77)
ckpt = os.path.join(refdir, "gaitbase_small.pt")
pkl_dir = os.path.join(shared, "opengait-pkl")
pkls = sorted(os.path.join(pkl_dir, f) for f in os.listdir(pkl_dir)
              if f.startswith(("Image02", "Image03"))) if os.path.isdir(pkl_dir) else []
if not os.path.exists(ckpt) or len(pkls) != 2:
    print("SKIPPED: reference checkpoint or shared data missing", file=sys.stderr)
    sys.exit(77)
os.makedirs(work, exist_ok=True)
failures = 0


def check(name, cond, detail=""):
    global failures
    print(f"{'ok ' if cond else 'BAD'} {name} {detail}")
    failures += 0 if cond else 1


def run(args):
    p = subprocess.run([gaitrt] + args, capture_output=True, text=True, timeout=300)
    if p.returncode:
        print(p.stderr)
    return p


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# expected: --tensor on the transformed arrays, one at a time
ref = []
for i, pk in enumerate(pkls):
    arr = pickle.load(open(pk, "rb"))
    x = (arr[:, :, 10:54].astype(np.float32) / 255.0)[None]
    np.save(os.path.join(work, f"t{i}.npy"), x)
    p = run(["embed", "--quiet", "-m", ckpt, "--tensor", os.path.join(work, f"t{i}.npy"), "-o", os.path.join(work, f"r{i}.npy")])
    check(f"--tensor {os.path.basename(pk)}", p.returncode == 0)
    ref.append(np.load(os.path.join(work, f"r{i}.npy"))[0])
ref = np.stack(ref)

# the .pkl files themselves (raw: cut + /255 by gaitrt), batched in one call
out = os.path.join(work, "pkl.npy")
p = run(["embed", "--quiet", "-m", ckpt, "-o", out] + pkls)
check("embed .pkl arrays", p.returncode == 0)
if p.returncode == 0:
    e = np.load(out)
    check("  shape [2, C, P]", e.shape == ref.shape, str(e.shape))
    check("  same as --tensor", rel(e, ref) < 1e-6, f"rel L2 {rel(e, ref):.3g}")

# a dataset root <id>/<type>/<view>/<file>.pkl, listed in OpenGait's sorted order
root = os.path.join(work, "dataset")
layout = [("002", "nm-01", "090", pkls[1]), ("001", "nm-01", "000", pkls[0])]
for sid, typ, view, src in layout:
    d = os.path.join(root, sid, typ, view)
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, view + ".pkl")
    if not os.path.exists(link):
        os.symlink(os.path.abspath(src), link)
out = os.path.join(work, "ds.npy")
p = run(["embed", "--quiet", "-m", ckpt, "--dataset", root, "-o", out])
check("embed --dataset", p.returncode == 0)
if p.returncode == 0:
    e = np.load(out)
    labels = open(os.path.join(work, "ds.labels.tsv")).read().split("\n")
    check("  labels in sorted order", labels[1].startswith("0\t001\tnm-01\t000") and labels[2].startswith("1\t002"), str(labels[:3]))
    check("  same as --tensor", rel(e, ref) < 1e-6, f"rel L2 {rel(e, ref):.3g}")

# raw frames: `embed` on PNG folders pretreats on the fly, identical to `pretreat` then `embed`
demo = os.path.join(shared, "silhouettes-demo")
if os.path.isdir(demo):
    raw_dirs = [os.path.join(demo, "gallery", "001", "undefined"), os.path.join(demo, "probe1", "002", "undefined")]
    p1 = run(["embed", "--quiet", "-m", ckpt, "-o", os.path.join(work, "raw.npy")] + raw_dirs)
    pk_root = os.path.join(work, "pretreated")
    p2 = run(["pretreat", demo, pk_root, "--quiet"])
    pk_dirs = [os.path.join(pk_root, "gallery", "001", "undefined"), os.path.join(pk_root, "probe1", "002", "undefined")]
    p3 = run(["embed", "--quiet", "-m", ckpt, "-o", os.path.join(work, "pk.npy")] + pk_dirs)
    check("raw frames embed / pretreat / embed run", p1.returncode == 0 and p2.returncode == 0 and p3.returncode == 0)
    if p1.returncode == 0 and p3.returncode == 0:
        a, b = np.load(os.path.join(work, "raw.npy")), np.load(os.path.join(work, "pk.npy"))
        check("  raw frames == pretreat then embed", a.shape == b.shape and float(abs(a - b).max()) == 0.0)

# keypoints -> skeleton maps through the command line: a COCO-17 walker, .pkl and .npy outputs agree
T = 6
pose = np.zeros((T, 17, 3), np.float64)
for t in range(T):
    for j in range(17):
        pose[t, j] = (300 + 20 * np.sin(j + 0.3 * t) + 3 * t, 100 + 25 * j, 0.9)
np.save(os.path.join(work, "pose.npy"), pose)
p1 = run(["heatmap", os.path.join(work, "pose.npy"), os.path.join(work, "maps.pkl")])
p2 = run(["heatmap", os.path.join(work, "pose.npy"), os.path.join(work, "maps.npy")])
check("heatmap runs", p1.returncode == 0 and p2.returncode == 0)
if p1.returncode == 0 and p2.returncode == 0:
    m1 = pickle.load(open(os.path.join(work, "maps.pkl"), "rb"))
    m2 = np.load(os.path.join(work, "maps.npy"))
    check("  maps [T, 2, 64, 64] uint8, not empty, .pkl == .npy",
          m1.shape == (T, 2, 64, 64) and m1.dtype == np.uint8 and m1.max() > 0 and (m1 == m2).all(), str(m1.shape))
p = run(["heatmap", os.path.join(work, "nope.json"), os.path.join(work, "x.pkl")])
check("heatmap on a missing file", p.returncode != 0 and "nope.json" in p.stderr)

# OpenGait YAML: agreeing and disagreeing
good = os.path.join(work, "good.yaml")
open(good, "w").write("model_cfg:\n  model: Baseline\n  backbone_cfg:\n    type: ResNet9\n    block: BasicBlock\n"
                      "    channels: [8, 16, 32, 64]\n    layers: [1, 1, 1, 1]\n    strides: [1, 2, 2, 1]\n    maxpool: false\n"
                      "  SeparateFCs:\n    in_channels: 64\n    out_channels: 32\n    parts_num: 16\n  bin_num:\n    - 16\n")
p = run(["info", "-m", ckpt, "--config", good])
check("info --config (agrees)", p.returncode == 0 and "GaitBase" in p.stdout)
bad = os.path.join(work, "bad.yaml")
open(bad, "w").write(open(good).read().replace("channels: [8, 16, 32, 64]", "channels: [64, 128, 256, 512]"))
p = run(["info", "-m", ckpt, "--config", bad])
check("info --config (disagrees) refused", p.returncode != 0 and "bad.yaml" in p.stderr and "channels" in p.stderr, p.stderr.strip())
broken = os.path.join(work, "broken.yaml")
open(broken, "w").write("model_cfg: [unclosed\n")
p = run(["info", "-m", ckpt, "--config", broken])
check("info --config (malformed YAML) refused", p.returncode != 0 and "broken.yaml" in p.stderr, p.stderr.strip())

# bench --peers: Debian's PyTorch (always installed with the tests) runs the same checkpoint and
# input and agrees with gaitrt; peers not installed are reported as missing; the peers' scratch
# folder is removed afterwards (it held the weights, the input and an exported model)
tmp = os.environ.get("TMPDIR", "/tmp")
before = {d for d in os.listdir(tmp) if d.startswith("gaitrt-bench-")}
p = run(["bench", "-m", ckpt, "--frames", "6", "--batch", "2", "--runs", "1", "--warmup", "0", "--peers"])
line = next((ln for ln in p.stdout.splitlines() if ln.strip().startswith("PyTorch (Debian)")), "")
fields = line.split()
try:
    peer_rel = float(fields[-1])
except (IndexError, ValueError):
    peer_rel = None
check("bench --peers: Debian's PyTorch agrees", p.returncode == 0 and peer_rel is not None and peer_rel < 1e-5, line.strip())
check("bench --peers: every peer reported", all(k in p.stdout for k in ("PyTorch (PyPI)", "torch.compile", "ONNX Runtime")))
after = {d for d in os.listdir(tmp) if d.startswith("gaitrt-bench-")}
check("bench --peers: scratch folder removed", "stay in" in p.stdout or not (after - before), str(sorted(after - before)))
# a model of two inputs (parsing and silhouettes), random weights written for the peers
p = run(["bench", "--model", "XGait", "--frames", "3", "--batch", "1", "--runs", "1", "--warmup", "0", "--peers"])
line = next((ln for ln in p.stdout.splitlines() if ln.strip().startswith("PyTorch (Debian)")), "")
try:
    peer_rel = float(line.split()[-1])
except (IndexError, ValueError):
    peer_rel = None
check("bench --peers, two inputs (XGait): Debian's PyTorch agrees", p.returncode == 0 and peer_rel is not None and peer_rel < 1e-5,
      line.strip())

print("test_cli_real:", "OK" if failures == 0 else f"NOT OK ({failures} failures)")
sys.exit(1 if failures else 0)

"""Pretreatment speed: gaitrt (C, bench_pretreat) against Python + OpenCV on one core, same run.

What is timed, per frame (every frame of every sequence under ROOT):
  gaitrt   gaitrt_pretreat_sequence(): read + decode the PNG, crop, INTER_CUBIC, centre, pad
  python   cv2.imread(IMREAD_GRAYSCALE) + tests/reference/pre_opengait.align_frame() + np.asarray,
           with cv2.setNumThreads(1) — a vectorised re-implementation of OpenGait's
           datasets/pretreatment.py (OpenGait's own per-column Python loop is slower still, so the
           ratio we report is conservative)
Both run pinned to the same CPU, interleaved (C, Python, C, Python, ...), so that machine load
hits both alike; we report medians. Before timing, the C output is validated: gaitrt writes the
.pkl files and we compare them with the Python result (must be identical).

usage: /usr/bin/python3 bench/preprocess/bench_pretreat.py --driver BUILD/bench_pretreat [--root DIR]
       [--rounds 7] [--cpu 0] [--out bench/results/preprocess-DATE.md]
Build the driver first (see bench/preprocess/README.md).
"""
import argparse
import datetime
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))


def sequences(root):
    out = []
    for a in sorted(os.listdir(root)):
        for b in sorted(os.listdir(os.path.join(root, a))):
            for c in sorted(os.listdir(os.path.join(root, a, b))):
                d = os.path.join(root, a, b, c)
                if os.path.isdir(d):
                    out.append((f"{a}/{b}/{c}", d, sorted(x for x in os.listdir(d) if x.endswith(".png"))))
    return out


def python_pass(seqs, og, cv2, np):
    kept = 0
    for _, d, names in seqs:
        frames = []
        for n in names:
            img = cv2.imread(os.path.join(d, n), cv2.IMREAD_GRAYSCALE)
            o, _ = og.align_frame(img)
            if o is not None:
                frames.append(o)
        arr = np.asarray(frames)
        kept += arr.shape[0]
    return kept


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--root", default=os.path.join(SRC, "..", "shared", "data", "silhouettes-demo"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    import numpy as np
    import cv2
    import pre_opengait as og
    cv2.setNumThreads(1)
    os.sched_setaffinity(0, {args.cpu})
    root = os.path.abspath(args.root)
    seqs = sequences(root)
    n_frames = sum(len(s[2]) for s in seqs)
    taskset = ["taskset", "-c", str(args.cpu)]

    # 1. validate: gaitrt's pickles == the Python reference
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(taskset + [args.driver, root, "--validate", tmp], check=True, stdout=subprocess.DEVNULL)
        for rel, d, names in seqs:
            ref = np.asarray([o for o in (og.align_frame(cv2.imread(os.path.join(d, n), cv2.IMREAD_GRAYSCALE))[0]
                                          for n in names) if o is not None])
            view = rel.split("/")[-1]
            with open(os.path.join(tmp, rel, view + ".pkl"), "rb") as f:
                ours = pickle.load(f)
            if ours.dtype != np.uint8 or ours.shape != ref.shape or not np.array_equal(ours, ref):
                sys.exit(f"validation failed for {rel}: {ours.dtype} {ours.shape} vs {ref.shape}")
    print(f"validated: {len(seqs)} sequences, {n_frames} frames identical to the Python reference")

    # 2. time, interleaved
    python_pass(seqs, og, cv2, np)  # warm-up (page cache, imports)
    c_us, c_dec_us, py_us, c_cpu, py_cpu = [], [], [], [], []
    load0 = os.getloadavg()
    for r in range(args.rounds):
        res = subprocess.run(taskset + [args.driver, root, "--reps", "3"], check=True, capture_output=True, text=True)
        j = json.loads(res.stdout)
        c_us.append(j["pretreat_us_per_frame"])
        c_dec_us.append(j["decode_us_per_frame"])
        c_cpu.append(j["pretreat_cpu_us_per_frame"])
        t, tc = time.perf_counter(), time.process_time()
        python_pass(seqs, og, cv2, np)
        py_us.append(1e6 * (time.perf_counter() - t) / n_frames)
        py_cpu.append(1e6 * (time.process_time() - tc) / n_frames)
        print(f"round {r + 1}: gaitrt {c_us[-1]:.1f} us/frame (cpu {c_cpu[-1]:.1f}), "
              f"python {py_us[-1]:.1f} us/frame (cpu {py_cpu[-1]:.1f})")
    load1 = os.getloadavg()
    c, p, dec = statistics.median(c_us), statistics.median(py_us), statistics.median(c_dec_us)
    cc, pc = statistics.median(c_cpu), statistics.median(py_cpu)
    ratio, ratio_cpu = p / c, pc / cc
    # napkin math: decoded pixels per second (the frames are 192 x 192 in silhouettes-demo)
    side = cv2.imread(os.path.join(seqs[0][1], seqs[0][2][0]), cv2.IMREAD_GRAYSCALE).shape
    mpix = side[0] * side[1] / 1e6
    summary = (f"gaitrt {c:.1f} us/frame ({1e6 / c:.0f} frames/s), Python+OpenCV {p:.1f} us/frame "
               f"({1e6 / p:.0f} frames/s): {ratio:.2f}x wall, {ratio_cpu:.2f}x CPU time")
    print(summary)

    date = datetime.date.today().isoformat()
    out = args.out or os.path.join(SRC, "bench", "results", f"preprocess-{date}.md")
    cmd = " ".join(["/usr/bin/python3", os.path.relpath(os.path.abspath(sys.argv[0]), SRC)] + sys.argv[1:])
    with open(out, "w") as f:
        f.write(f"# Silhouette pretreatment speed, {date}\n\n")
        f.write(f"Command (from the repository root): `{cmd}`, after `sh bench/preprocess/build_driver.sh build-pre-rel` "
                f"on a Release build (`cmake -S . -B build-pre-rel -DCMAKE_BUILD_TYPE=Release -DGAITRT_CUDA=OFF`).\n\n")
        f.write(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}; "
                f"one core (CPU {args.cpu}) for both sides; load average {load0[0]:.1f} before, {load1[0]:.1f} after "
                f"(the machine was shared: compare the two columns, not absolute times).\n\n")
        f.write(f"Input: {len(seqs)} sequences, {n_frames} frames of {side[1]}x{side[0]} 8-bit PNG "
                f"(`../shared/data/silhouettes-demo`), pretreated to 64x64 (datasets/pretreatment.py).\n\n")
        f.write("Validation first: gaitrt's .pkl files equal the Python reference frame for frame, pixel for pixel.\n\n")
        f.write("| round | gaitrt us/frame (wall) | (CPU) | Python+OpenCV us/frame (wall) | (CPU) |\n|---|---|---|---|---|\n")
        for r in range(args.rounds):
            f.write(f"| {r + 1} | {c_us[r]:.1f} | {c_cpu[r]:.1f} | {py_us[r]:.1f} | {py_cpu[r]:.1f} |\n")
        f.write(f"| **median** | **{c:.1f}** ({1e6 / c:.0f} frames/s) | {cc:.1f} | **{p:.1f}** ({1e6 / p:.0f} frames/s) | "
                f"{pc:.1f} |\n\n")
        f.write(f"Speed-up on one core: **{ratio:.2f}x** in wall time, **{ratio_cpu:.2f}x** in CPU time (target >= 3x).\n\n")
        raw = side[0] * (side[1] + 1)
        f.write(f"Napkin math: gaitrt turns {mpix * 1e6 / c:.0f} Mpx/s of source frames into aligned 64x64 frames "
                f"({mpix * 1e6 / cc:.0f} Mpx/s per CPU-second); each frame is ~1 KB of DEFLATE that expands to {raw} "
                f"bytes of filtered rows, i.e. {raw / cc:.0f} MB/s of decoded image data per CPU-second. PNG decoding "
                f"alone through the single-image call (fresh buffers on every call) takes {dec:.1f} us/frame. "
                f"The per-frame work is small (a 192x192 decode, a ~150x192 -> 64x~80 cubic resize), so the floor is "
                f"memory-latency bound, not FLOP bound.\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

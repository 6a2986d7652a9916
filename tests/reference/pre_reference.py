"""Reference data for the preprocessing tests (tests/preprocess/).

We re-implement, in plain numpy + Debian's python3-opencv, what OpenGait's offline scripts do:
  * datasets/pretreatment.py (silhouettes: imread grey, sum threshold, vertical crop, INTER_CUBIC
    to height S, mass-median centre, pad/crop to S x S), its CCPG variant (organize_ccpg.py,
    INTER_AREA, no threshold) and the parsing variant (pretreatment_gps.py -p, INTER_NEAREST);
  * datasets/pretreatment_heatmap.py (skeleton maps from COCO keypoints), including a numpy
    k-NN imputer that follows scikit-learn's KNNImputer(n_neighbors=4, weights="distance") and
    matplotlib's grey colour map, neither of which is installed here.
The arithmetic deliberately keeps numpy's dtypes where they decide the rounding (float32 Gaussians,
float64 limb distances...), because the C code is checked against this bit for bit.

Output: OUTDIR/pre/*.bin in a small container ("GRTPRE\\0\\1", then named arrays) that
tests/preprocess/pre_testdata.h reads, image files for the decoder tests, synthetic sequence
folders, and OUTDIR/pre/DONE. When cv2 is missing we write OUTDIR/pre/SKIPPED and exit 77.

usage: pre_reference.py OUTDIR [SHARED_DATA_DIR]
"""
import os
import struct
import sys
import zlib

SKIP = 77


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else "ref"
    shared = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("GRT_SHARED_DATA", "")
    out = os.path.join(out_root, "pre")
    os.makedirs(out, exist_ok=True)
    for f in ("DONE", "SKIPPED"):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    try:
        import numpy  # noqa: F401
        import cv2  # noqa: F401
    except ImportError as e:
        msg = f"python3-opencv and numpy are needed ({e}); apt install python3-opencv"
        with open(os.path.join(out, "SKIPPED"), "w") as f:
            f.write(msg + "\n")
        print("SKIPPED: " + msg, file=sys.stderr)
        sys.exit(SKIP)
    import pre_refdata as refdata
    refdata.run(out, shared)
    with open(os.path.join(out, "DONE"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()

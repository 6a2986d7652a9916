"""Checks the .pkl files `gaitrt pretreat` (or gaitrt_pretreat_dir) wrote against our Python +
OpenCV re-implementation of OpenGait's pretreatment run on the same input root.

usage: pre_check_pkl.py INPUT_ROOT OUTPUT_ROOT SIZE MODE      (MODE: sil | ccpg | parsing)
Every <id>/<type>/<view> with at least one valid frame must have <view>.pkl that pickle.load
reads as a numpy uint8 array [T, SIZE, SIZE] equal to the reference; the others must have none.
Exit 0 when all match, 1 otherwise, 77 when cv2/numpy are missing."""
import os
import pickle
import sys


def main():
    try:
        import numpy as np
        import cv2  # noqa: F401
    except ImportError as e:
        print(f"SKIPPED: needs python3-opencv and numpy ({e})", file=sys.stderr)
        sys.exit(77)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pre_opengait as og
    src, dst, size, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    bad = 0
    n = 0
    for sid in sorted(os.listdir(src)):
        for typ in sorted(os.listdir(os.path.join(src, sid))):
            for view in sorted(os.listdir(os.path.join(src, sid, typ))):
                d = os.path.join(src, sid, typ, view)
                names = sorted(x for x in os.listdir(d) if x.lower().endswith((".png", ".jpg", ".jpeg")))
                imgs = [og.imread_grey(os.path.join(d, x)) for x in names]
                imgs = [i for i in imgs if i is not None]
                ref, _ = og.align_sequence(imgs, size, mode)
                pkl = os.path.join(dst, sid, typ, view, view + ".pkl")
                n += 1
                if ref.shape[0] == 0:
                    if os.path.exists(pkl):
                        print(f"{pkl}: written, but no frame is valid")
                        bad += 1
                    continue
                if not os.path.exists(pkl):
                    print(f"{pkl}: missing")
                    bad += 1
                    continue
                with open(pkl, "rb") as f:
                    arr = pickle.load(f)
                if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != ref.shape:
                    print(f"{pkl}: {type(arr).__name__} {getattr(arr, 'dtype', '?')} {getattr(arr, 'shape', '?')}, "
                          f"expected uint8 {ref.shape}")
                    bad += 1
                    continue
                diff = int((arr != ref).sum())
                if diff:
                    print(f"{pkl}: {diff} pixels differ")
                    bad += 1
    print(f"checked {n} sequences: {n - bad} match the reference")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

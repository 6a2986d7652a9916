"""Our numpy + OpenCV re-implementation of OpenGait's offline pretreatment, used as the reference
for gaitrt's C preprocessing (tests/preprocess/) and as the peer in bench/preprocess/.

Written from the behaviour described in ../shared/spec/preprocessing.md and skeletongaitpp.md §3:
  align_frame()   datasets/pretreatment.py, datasets/CCPG/organize_ccpg.py, pretreatment_gps.py -p
  skeleton_maps() datasets/pretreatment_heatmap.py (COCO18->17, KNN filling, centre/scale,
                  Gaussian joints and limbs, grey colour map, hip-centred INTER_AREA alignment)
Where OpenGait's result depends on numpy's dtype rules we keep the same dtypes on purpose.
"""
import numpy as np
import cv2

EMPTY_SUM = 10000


def imread_grey(path):
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def align_frame(img, size=64, mode="sil"):
    """One frame -> (S x S uint8, "kept") or (None, reason). mode: sil | ccpg | parsing."""
    if mode == "parsing":
        mask = (img > 0).astype(np.uint8) * 255
    else:
        mask = img
    total = int(mask.sum(dtype=np.uint64))
    if mode != "ccpg" and total <= EMPTY_SUM:
        return None, "empty"
    nz = np.flatnonzero(mask.sum(axis=1, dtype=np.uint64) != 0)
    top, btm = (int(nz[0]), int(nz[-1])) if nz.size else (0, 0)
    img = img[top:btm + 1]
    mask = mask[top:btm + 1]
    h, w = img.shape
    new_w = int(size * (w / h))
    if new_w == 0:
        return None, "too thin"
    interp = {"sil": cv2.INTER_CUBIC, "ccpg": cv2.INTER_AREA, "parsing": cv2.INTER_NEAREST}[mode]
    out = cv2.resize(img, (new_w, size), interpolation=interp)
    m = cv2.resize(mask, (new_w, size), interpolation=interp) if mode == "parsing" else out
    csum = np.cumsum(m.sum(axis=0, dtype=np.int64))
    above = np.flatnonzero(csum * 2 > csum[-1])
    if above.size == 0:
        return None, "no centre"
    xc = int(above[0])
    if mode != "ccpg" and xc == 0:
        return None, "no centre"
    half = size // 2
    left, right = xc - half, xc + half
    if left <= 0 or right >= out.shape[1]:
        out = np.pad(out, ((0, 0), (half, half)))
        left += half
        right += half
    return np.ascontiguousarray(out[:, left:right]).astype(np.uint8), "kept"


def align_sequence(frames, size=64, mode="sil"):
    kept, reasons = [], []
    for img in frames:
        o, why = align_frame(img, size, mode)
        reasons.append(why)
        if o is not None:
            kept.append(o)
    arr = np.stack(kept) if kept else np.zeros((0, size, size), np.uint8)
    return arr, reasons


# ---------------------------------------------------------------------------------------------
# skeleton maps

COCO18_TO_17 = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
LIMBS = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11), (11, 13),
         (13, 15), (6, 12), (12, 14), (14, 16), (11, 12)]
EPS = 1e-3


def knn_fill(xy):
    """KNNImputer(missing_values=0.0, n_neighbors=4, weights="distance").fit_transform(xy), computed
    in float64 with plain nan-Euclidean distances and sequential sums (the C code does the same).
    A column missing in every row makes OpenGait fall back to the unfilled table."""
    X = xy.astype(np.float64)
    miss = X == 0.0
    if not miss.any() or miss.all(axis=0).any():
        return xy
    T, D = X.shape
    present = ~miss
    out = X.copy()
    for r in np.flatnonzero(miss.any(axis=1)):
        common = present & present[r]
        cnt = common.sum(axis=1)
        diff = np.where(common, X - X[r], 0.0)
        sq = np.zeros(T)
        for j in range(D):
            sq = sq + diff[:, j] * diff[:, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.sqrt(sq * D / np.maximum(cnt, 1))
        dist[cnt == 0] = np.nan
        for c in np.flatnonzero(miss[r]):
            donors = np.flatnonzero(present[:, c])
            d = dist[donors]
            if np.isnan(d).all():
                s = 0.0
                for v in X[donors, c]:
                    s += v
                out[r, c] = s / donors.size
                continue
            k = min(4, donors.size)
            order = np.argsort(np.where(np.isnan(d), np.inf, d), kind="stable")[:k]
            dd = d[order]
            vals = X[donors[order], c]
            if (dd == 0).any():
                w = (dd == 0).astype(np.float64)
            else:
                with np.errstate(invalid="ignore"):
                    w = 1.0 / dd
                w[np.isnan(w)] = 0.0
            num, den = 0.0, 0.0
            for i in range(k):
                num += w[i] * vals[i]
            for i in range(k):
                den += w[i]
            out[r, c] = num / den
    return out.astype(xy.dtype)


def normalize(pose):
    """CenterAndScaleNormalizer: hip at (64, 64), body 85 px tall, in the pose's own dtype."""
    xy = pose[..., :2].copy()
    hip = (xy[:, 11] + xy[:, 12]) / 2.
    xy = xy - hip[:, None, :]
    ymax = xy[:, :, 1].max(axis=1)
    ymin = xy[:, :, 1].min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy *= (128 // 1.5) / (ymax - ymin)[:, None, None]
    xy += 128 // 2
    return xy


def _window(lo, hi, n):
    a = max(int(float(lo) - 24.0), 0)
    b = min(int(float(hi) + 24.0) + 1, n)
    return a, b


def _joint(canvas, x, y, c):
    if float(c) < EPS:
        return
    H, W = canvas.shape
    x0, x1 = _window(x, x, W)
    y0, y1 = _window(y, y, H)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    e = -((xs - np.float32(x)) ** 2 + (ys - np.float32(y)) ** 2) / np.float32(2) / np.float32(64)
    patch = np.exp(e) * np.float32(c)
    canvas[y0:y1, x0:x1] = np.maximum(canvas[y0:y1, x0:x1], patch)


def _limb(canvas, a, b, ca, cb):
    v = min(ca, cb)
    if float(v) < EPS:
        return
    H, W = canvas.shape
    x0, x1 = _window(min(a[0], b[0]), max(a[0], b[0]), W)
    y0, y1 = _window(min(a[1], b[1]), max(a[1], b[1]), H)
    if x0 >= x1 or y0 >= y1:
        return
    Q = a.dtype.type
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    d2a = (xs - np.float32(a[0])) ** 2 + (ys - np.float32(a[1])) ** 2
    d2b = (xs - np.float32(b[0])) ** 2 + (ys - np.float32(b[1])) ** 2
    dab = float(Q(a[0] - b[0])) ** 2 + float(Q(a[1] - b[1])) ** 2
    if dab < 1:
        _joint(canvas, a[0], a[1], ca)
        return
    coeff = (d2a - d2b + np.float32(dab)) / np.float32(2) / np.float32(dab)
    ad = coeff <= 0
    bd = coeff >= 1
    seg = 1 - ad.astype(np.int64) - bd.astype(np.int64)
    ddx, ddy = Q(b[0] - a[0]), Q(b[1] - a[1])
    px = Q(a[0]) + coeff.astype(Q) * ddx
    py = Q(a[1]) + coeff.astype(Q) * ddy
    gx = np.broadcast_to(xs, coeff.shape).astype(Q) - px
    gy = np.broadcast_to(ys, coeff.shape).astype(Q) - py
    dl = gx * gx + gy * gy
    d2 = (ad * d2a + bd * d2b).astype(np.float64) + seg * dl.astype(np.float64)
    patch = np.exp(-d2 / 2. / 64.) * float(v)
    canvas[y0:y1, x0:x1] = np.maximum(canvas[y0:y1, x0:x1], patch)


def gray_lut():
    """matplotlib's 'gray' colour map (256 entries), built as LinearSegmentedColormap does."""
    xind = 255.0 * np.linspace(0.0, 1.0, 256)
    dist = (xind[1:-1] - 0.0) / (255.0 - 0.0)
    return np.concatenate([[0.0], dist * (1.0 - 0.0) + 0.0, [1.0]])


def to_grey(canvas):
    lut = gray_lut()
    xa = canvas * np.float32(256)
    xa[xa == 256] = 255
    bad = np.isnan(xa)
    over = xa >= 256
    idx = np.where(bad | over, 0, xa).astype(np.int64)
    vals = lut[idx]
    vals[over] = lut[255]
    vals[bad] = 0.0
    return (vals * 255).astype(np.uint8)


def align_map(g, out=64):
    img = g.astype(np.float64) / 255.
    C = img.shape[0]
    nz = np.flatnonzero(img.sum(axis=1) != 0)
    top, btm = (int(nz[0]), int(nz[-1])) if nz.size else (0, 0)
    h = btm - top + 1
    crop = img[top:btm + 1, C // 2 - h // 2: C // 2 + h // 2 + 1]
    r = cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA)
    return (r * 255).astype(np.uint8)


def skeleton_maps(pose, coco18=False, fill=True, canvas=128, out=64):
    """pose [T, V, 3] float32/float64 -> [T, 2, out, out] uint8 (bones, joints)."""
    if coco18:
        p17 = np.zeros((pose.shape[0], 17, pose.shape[2]))
        for i in range(17):
            p17[:, i, :] = pose[:, COCO18_TO_17[i], :]
        pose = p17
    T, V, _ = pose.shape
    if fill:
        xy = knn_fill(pose[..., :2].reshape(T, V * 2))
        pose = np.concatenate([xy.reshape(T, V, 2), pose[..., 2:]], axis=-1).astype(pose.dtype)
    xy = normalize(pose)
    conf = pose[..., 2]
    res = np.zeros((T, 2, out, out), np.uint8)
    for t in range(T):
        bone = np.zeros((canvas, canvas), np.float32)
        joint = np.zeros((canvas, canvas), np.float32)
        for (ia, ib) in LIMBS:
            _limb(bone, xy[t, ia], xy[t, ib], conf[t, ia], conf[t, ib])
        for j in range(V):
            _joint(joint, xy[t, j, 0], xy[t, j, 1], conf[t, j])
        res[t, 0] = align_map(to_grey(bone), out)
        res[t, 1] = align_map(to_grey(joint), out)
    return res

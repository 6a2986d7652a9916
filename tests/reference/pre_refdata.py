"""Writes the preprocessing reference data (see pre_reference.py for the layout and the why).

Every case is deterministic (fixed seeds), so the C tests can name cases by index."""
import os
import struct
import zlib

import numpy as np
import cv2

import pre_opengait as og

DT = {np.dtype(np.uint8): 0, np.dtype(np.int32): 1, np.dtype(np.float32): 2, np.dtype(np.float64): 3}


class Container:
    """Named arrays in the GRTPRE container (little-endian)."""

    def __init__(self):
        self.items = []

    def add(self, name, arr):
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.int64 or arr.dtype == np.bool_:
            arr = arr.astype(np.int32)
        assert arr.dtype in DT, (name, arr.dtype)
        self.items.append((name, arr))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(b"GRTPRE\x00\x01" + struct.pack("<I", len(self.items)))
            for name, arr in self.items:
                nb = name.encode()
                f.write(struct.pack("<H", len(nb)) + nb + struct.pack("<BB", DT[arr.dtype], arr.ndim))
                for d in arr.shape:
                    f.write(struct.pack("<I", d))
                f.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())


# ---------------------------------------------------------------------------------------------
# resize: random images of many sizes through every interpolation we implement

def resize_cases(out):
    rng = np.random.default_rng(20240601)
    c = Container()
    sizes = []
    for sw in (1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 44, 63, 64, 65, 100, 129, 192):
        for sh in (1, 2, 3, 4, 13, 64, 65, 127, 128, 192):
            sizes.append((sw, sh))
    rng.shuffle(sizes)
    targets = [(64, 64), (22, 64), (33, 64), (64, 32), (1, 1), (2, 3), (7, 5), (9, 64), (96, 64), (200, 64),
               (128, 128), (17, 31), (64, 1), (1, 64), (300, 7), (88, 128)]
    n = 0
    for i, (sw, sh) in enumerate(sizes):
        kind = i % 4
        if kind == 0:
            img = rng.integers(0, 256, (sh, sw), dtype=np.uint8)
        elif kind == 1:  # binary mask: saturation of the cubic overshoot
            img = (rng.random((sh, sw)) < 0.5).astype(np.uint8) * 255
        elif kind == 2:  # smooth blob
            yy, xx = np.mgrid[0:sh, 0:sw]
            img = np.clip(255 * np.exp(-((xx - sw / 2) ** 2 + (yy - sh / 3) ** 2) / (0.1 + sw * sh / 8.0)), 0,
                          255).astype(np.uint8)
        else:  # extremes only
            img = rng.choice(np.array([0, 1, 254, 255], np.uint8), (sh, sw))
        picks = [targets[(i + k) % len(targets)] for k in range(3)]
        # the silhouette resize itself: height 64, width int(64 * w / h); and integer area factors
        picks.append((max(1, int(64 * (sw / sh))), 64))
        if sw % 2 == 0 and sh % 2 == 0:
            picks.append((sw // 2, sh // 2))
        if sw % 3 == 0 and sh % 3 == 0:
            picks.append((sw // 3, sh // 3))
        c.add(f"src/{i}", img)
        for (dw, dh) in picks:
            if dw > 1024:
                continue
            for interp, code in ((cv2.INTER_NEAREST, 0), (cv2.INTER_LINEAR, 1), (cv2.INTER_CUBIC, 2),
                                 (cv2.INTER_AREA, 3)):
                dst = cv2.resize(img, (dw, dh), interpolation=interp)
                c.add(f"u8/{n}/meta", np.array([code, dw, dh, i], np.int32))
                c.add(f"u8/{n}/dst", dst)
                n += 1
    # float64 (heat-map alignment): area and linear, shrinking and enlarging
    m = 0
    for (sw, sh) in ((128, 128), (127, 127), (129, 100), (65, 61), (63, 63), (1, 1), (5, 9), (101, 128), (64, 64),
                     (30, 40), (256, 128), (129, 129), (97, 97), (3, 200)):
        img = rng.random((sh, sw)) * (rng.random((sh, sw)) < 0.7)
        img = np.round(img * 255) / 255.0  # values like the heat maps: k / 255
        for (dw, dh) in ((64, 64), (32, 16), (70, 70), (sw, max(1, sh // 2))):
            for interp, code in ((cv2.INTER_LINEAR, 1), (cv2.INTER_AREA, 3), (cv2.INTER_NEAREST, 0)):
                dst = cv2.resize(img, (dw, dh), interpolation=interp)
                c.add(f"f64/{m}/src", img)
                c.add(f"f64/{m}/meta", np.array([code, dw, dh], np.int32))
                c.add(f"f64/{m}/dst", dst)
                m += 1
    c.add("count", np.array([n, m], np.int32))
    c.write(os.path.join(out, "resize.bin"))
    print(f"resize: {n} uint8 cases, {m} float64 cases")


# ---------------------------------------------------------------------------------------------
# image files for the decoder

def _chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def _png(w, h, ctype, depth, rows, pre=b"", plte=None, trns=None, interlace=0, post=b""):
    s = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    s += pre
    if plte is not None:
        s += _chunk(b"PLTE", plte)
    if trns is not None:
        s += _chunk(b"tRNS", trns)
    raw = b"".join(b"\x00" + r for r in rows)
    data = zlib.compress(raw, 9)
    # two IDAT chunks, to exercise chunk boundaries
    s += _chunk(b"IDAT", data[: len(data) // 2]) + _chunk(b"IDAT", data[len(data) // 2:])
    return s + post + _chunk(b"IEND", b"")


def _filter_rows(img, kinds):
    """Rows of an 8-bit grey image with PNG filter kinds[y] (0 none, 1 Sub, 2 Up, 3 Average, 4 Paeth)."""
    h, w = img.shape
    rows = []
    for y in range(h):
        cur = img[y].astype(np.int64)
        prev = img[y - 1].astype(np.int64) if y else np.zeros(w, np.int64)
        left = np.concatenate([[0], cur[:-1]])
        upleft = np.concatenate([[0], prev[:-1]])
        k = kinds[y % len(kinds)]
        if k == 0:
            pred = np.zeros(w, np.int64)
        elif k == 1:
            pred = left
        elif k == 2:
            pred = prev
        elif k == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        rows.append(bytes([k]) + ((cur - pred) % 256).astype(np.uint8).tobytes())
    return rows


def _png_filtered(w, h, rows):
    """Like _png, but the rows already carry their filter byte."""
    s = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    data = zlib.compress(b"".join(rows), 6)
    s += _chunk(b"IDAT", data[:7]) + _chunk(b"IDAT", data[7:]) + _chunk(b"IEND", b"")
    return s


def _pack(vals, depth):
    """Pack a row of small integers at 1/2/4 bits per sample."""
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for k in range(per):
            v = int(vals[i + k]) if i + k < len(vals) else 0
            b |= v << (8 - depth * (k + 1))
        out.append(b)
    return bytes(out)


def _adam7(img):
    """Rows of an Adam7-interlaced 8-bit grey image (filter type 0 on every pass row)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    h, w = img.shape
    for (x0, y0, dx, dy) in passes:
        sub = img[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for r in sub:
            rows.append(r.tobytes())
    return rows


def _tiff_orientation(o, little):
    e = "<" if little else ">"
    head = (b"II*\x00" if little else b"MM\x00*") + struct.pack(e + "I", 8)
    ifd = struct.pack(e + "H", 2)
    ifd += struct.pack(e + "HHI", 0x010F, 2, 4) + b"gx\x00\x00"  # Make (fits in the value field)
    ifd += struct.pack(e + "HHIHH", 0x0112, 3, 1, o, 0)
    ifd += struct.pack(e + "I", 0)
    return head + ifd


def _jpeg_with_exif(jpg, o, little):
    app1 = b"Exif\x00\x00" + _tiff_orientation(o, little)
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return jpg[:2] + seg + jpg[2:]


def decode_cases(out):
    d = os.path.join(out, "decode")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    files = {}
    h, w = 37, 53
    yy, xx = np.mgrid[0:h, 0:w]
    grey = ((xx * 5 + yy * 3) % 256).astype(np.uint8)
    bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    bgr[:5] = bgr[:5, :, :1]  # a few grey pixels (r == g == b)
    bgra = np.concatenate([bgr, rng.integers(0, 256, (h, w, 1), dtype=np.uint8)], axis=2)
    g16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    c16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)

    def imw(name, arr, params=()):
        p = os.path.join(d, name)
        assert cv2.imwrite(p, arr, list(params)), name
        files[name] = p

    def raw(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        files[name] = p

    imw("grey8.png", grey)
    imw("bgr8.png", bgr)
    imw("bgra8.png", bgra)
    imw("grey16.png", g16)
    imw("bgr16.png", c16)
    imw("bgr16a.png", np.concatenate([c16, g16[..., None]], axis=2))
    rgb_rows = [bgr[y, :, ::-1].tobytes() for y in range(h)]
    raw("rgb_gama.png", _png(w, h, 2, 8, rgb_rows, pre=_chunk(b"gAMA", struct.pack(">I", 45455))))
    raw("rgb_gama22.png", _png(w, h, 2, 8, rgb_rows, pre=_chunk(b"gAMA", struct.pack(">I", 100000 * 22 // 10))))
    raw("rgb_gama_near1.png", _png(w, h, 2, 8, rgb_rows, pre=_chunk(b"gAMA", struct.pack(">I", 97000))))
    raw("rgb_srgb.png", _png(w, h, 2, 8, rgb_rows, pre=_chunk(b"sRGB", b"\x00")))
    ga = np.stack([grey, rng.integers(0, 256, (h, w), dtype=np.uint8)], axis=2)
    raw("grey_alpha8.png", _png(w, h, 4, 8, [ga[y].tobytes() for y in range(h)]))
    ga16 = np.stack([g16, g16[::-1]], axis=2).astype(">u2")
    raw("grey_alpha16.png", _png(w, h, 4, 16, [ga16[y].tobytes() for y in range(h)]))
    pal = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    idx = rng.integers(0, 256, (h, w), dtype=np.uint8)
    raw("palette8.png", _png(w, h, 3, 8, [idx[y].tobytes() for y in range(h)], plte=pal.tobytes()))
    raw("palette8_trns.png", _png(w, h, 3, 8, [idx[y].tobytes() for y in range(h)], plte=pal.tobytes(),
                                  trns=bytes(range(0, 256, 2))))
    idx4 = idx % 16
    raw("palette4.png", _png(w, h, 3, 4, [_pack(idx4[y], 4) for y in range(h)], plte=pal[:16].tobytes()))
    idx1 = idx % 2
    raw("palette1.png", _png(w, h, 3, 1, [_pack(idx1[y], 1) for y in range(h)], plte=pal[:2].tobytes()))
    for depth in (1, 2, 4):
        v = (idx % (1 << depth)).astype(np.uint8)
        raw(f"grey{depth}.png", _png(w, h, 0, depth, [_pack(v[y], depth) for y in range(h)]))
    raw("grey8_trns.png", _png(w, h, 0, 8, [grey[y].tobytes() for y in range(h)], trns=struct.pack(">H", 5)))
    raw("grey8_adam7.png", _png(w, h, 0, 8, _adam7(grey), interlace=1))
    # every PNG row filter on noisy and on mask-like content (the fast grey path unfilters itself)
    noisy = rng.integers(0, 256, (h, w), dtype=np.uint8)
    for k in range(5):
        raw(f"grey8_filter{k}.png", _png_filtered(w, h, _filter_rows(noisy, [k])))
    raw("grey8_filter_mixed.png", _png_filtered(w, h, _filter_rows(noisy, [4, 3, 2, 1, 0, 3, 4])))
    blob = (((xx - 26) ** 2 + (yy - 18) ** 2) < 150).astype(np.uint8) * 255
    raw("grey8_mask_paeth.png", _png_filtered(w, h, _filter_rows(blob, [4])))
    # ancillary chunks the fast path skips, one of them with a broken CRC (libpng drops it)
    bad_text = _chunk(b"tEXt", b"Comment\x00hello")
    bad_text = bad_text[:-1] + bytes([bad_text[-1] ^ 1])
    raw("grey8_ancillary.png", _png(w, h, 0, 8, [grey[y].tobytes() for y in range(h)],
                                    pre=_chunk(b"gAMA", struct.pack(">I", 45455)) + bad_text + _chunk(b"pHYs", bytes(9))))
    for o in range(1, 9):
        raw(f"exif{o}.png", _png(w, h, 0, 8, [grey[y].tobytes() for y in range(h)],
                                 pre=_chunk(b"eXIf", _tiff_orientation(o, o % 2 == 0))))
    # eXIf after the image data: OpenCV only looks before it
    raw("exif_late.png", _png(w, h, 0, 8, [grey[y].tobytes() for y in range(h)],
                              post=_chunk(b"eXIf", _tiff_orientation(3, True))))
    # an eXIf chunk libpng rejects (no byte-order mark): the image still reads
    raw("exif_bad.png", _png(w, h, 0, 8, [grey[y].tobytes() for y in range(h)], pre=_chunk(b"eXIf", b"XXjunkdata")))
    # JPEG
    imw("grey.jpg", grey, (cv2.IMWRITE_JPEG_QUALITY, 90))
    imw("bgr.jpg", bgr, (cv2.IMWRITE_JPEG_QUALITY, 85))
    imw("bgr_prog.jpg", bgr, (cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
        imw("bgr444.jpg", bgr, (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444))
    with open(files["grey.jpg"], "rb") as f:
        gj = f.read()
    for o in range(1, 9):
        raw(f"exif{o}.jpg", _jpeg_with_exif(gj, o, o % 2 == 1))
    # an XMP APP1 segment (not EXIF) and an EXIF block cut short after the orientation entry
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"
    raw("xmp.jpg", gj[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + gj[2:])
    t = _tiff_orientation(6, False)
    t = t[:8] + struct.pack(">H", 3) + t[10:22] + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0)  # Make, Orientation, ...
    cut = b"Exif\x00\x00" + t
    raw("exif_short.jpg", gj[:2] + b"\xff\xe1" + struct.pack(">H", len(cut) + 2) + cut + gj[2:])
    try:
        from PIL import Image
        cmyk = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        Image.frombytes("CMYK", (w, h), cmyk.tobytes()).save(os.path.join(d, "cmyk.jpg"), quality=90)
        files["cmyk.jpg"] = os.path.join(d, "cmyk.jpg")
    except Exception as e:  # PIL is optional; the C test skips the file when absent
        print("decode: no CMYK JPEG (PIL unavailable: %s)" % e)
    # a silhouette-like frame as the datasets store them
    sil = np.zeros((192, 192), np.uint8)
    sil[40:170, 80:110] = 255
    imw("sil.png", sil)

    c = Container()
    names = sorted(files)
    for name in names:
        img = cv2.imread(files[name], cv2.IMREAD_GRAYSCALE)
        assert img is not None, name
        c.add("img/" + name, img)
    c.write(os.path.join(out, "decode.bin"))

    # malformed files: each must give a clear error (cv2 returns None for all but the JPEG)
    bad = os.path.join(out, "decode_bad")
    os.makedirs(bad, exist_ok=True)
    with open(files["grey8.png"], "rb") as f:
        png = f.read()
    with open(files["bgr.jpg"], "rb") as f:
        jpg = f.read()
    samples = {
        "empty.png": b"",
        "garbage.png": bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
        "truncated.png": png[: len(png) // 2],
        "header_only.png": png[:33],
        "bad_crc.png": png[:29] + bytes([png[29] ^ 0xFF]) + png[30:],
        "huge.png": _png(100000, 1, 0, 8, [bytes(100000)]),
        "zero_width.png": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0)),
        "truncated.jpg": jpg[: len(jpg) // 2],
        "garbage.jpg": b"\xff\xd8\xff" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)),
        "text.png": b"not an image at all\n",
    }
    for name, data in samples.items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)
    print(f"decode: {len(names)} files, {len(samples)} malformed")


# ---------------------------------------------------------------------------------------------
# synthetic silhouette sequences

def _person(h, w, cx, top, height, rng, holes=0, soft=False, legs=0.0):
    """A crude walking person: head, torso, two legs. Coordinates in pixels of an h x w frame."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    s = height
    head = ((xx - cx) ** 2 + (yy - (top + 0.08 * s)) ** 2) < (0.07 * s) ** 2
    torso = (((xx - cx) / (0.14 * s)) ** 2 + ((yy - (top + 0.35 * s)) / (0.22 * s)) ** 2) < 1
    m = head | torso
    for sgn in (-1, 1):
        lx = cx + sgn * (0.05 * s + legs * 0.12 * s * ((yy - (top + 0.55 * s)) / (0.45 * s)))
        leg = (np.abs(xx - lx) < 0.045 * s) & (yy > top + 0.5 * s) & (yy < top + s)
        m |= leg
    img = m.astype(np.float64) * 255
    for _ in range(holes):
        hy, hx = top + rng.random() * s, cx + (rng.random() - 0.5) * 0.2 * s
        img[((xx - hx) ** 2 + (yy - hy) ** 2) < (0.03 * s) ** 2] = 0
    if soft:
        img = cv2.GaussianBlur(img, (5, 5), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


def _synthetic_sequences(rng):
    """(name, [frames]) with every corner case of the alignment in it."""
    seqs = []
    H, W = 192, 192
    frames = []
    for t in range(12):
        frames.append(_person(H, W, 60 + 6 * t + rng.random(), 20 + rng.random() * 3, 150, rng,
                              holes=t % 3, legs=np.sin(t)))
    seqs.append(("walk/nm-01/090", frames))
    frames = []
    for t, (cx, top, hgt) in enumerate([(96, 5, 180), (10, 30, 120), (185, 30, 120), (96, 100, 40), (96, 60, 20),
                                        (3, 10, 170), (96, 0, 192), (50, 50, 60)]):
        frames.append(_person(H, W, cx, top, hgt, rng, soft=t % 2 == 1, legs=0.5))
    frames.append(np.zeros((H, W), np.uint8))                      # empty
    tiny = np.zeros((H, W), np.uint8)
    tiny[100:105, 100:107] = 255                                    # below the sum threshold
    frames.append(tiny)
    just = np.zeros((H, W), np.uint8)
    just[50:90, 20:21] = 255                                        # 40 px: sum 10200 > 10000, 1 column
    frames.append(just)
    frames.append(np.full((H, W), 255, np.uint8))                   # everything foreground
    line = np.zeros((H, W), np.uint8)
    line[120, :] = 255                                              # one row: very wide after resizing
    frames.append(line)
    left = np.zeros((H, W), np.uint8)
    left[20:180, 0:3] = 255                                         # mass in column 0 -> centre 0
    frames.append(left)
    seqs.append(("edge/cases/000", frames))
    # other frame sizes (CASIA-B is 320x240, OU-MVLP 1280x980-ish crops); odd sizes
    frames = [_person(240, 320, 150 + 3 * t, 30, 190, rng, holes=1, soft=True, legs=np.cos(t)) for t in range(5)]
    frames += [_person(101, 57, 28, 4, 90, rng), _person(64, 64, 32, 0, 64, rng)]
    seqs.append(("sizes/mixed/180", frames))
    # grey values (soft masks) and noise specks
    frames = []
    for t in range(6):
        f = _person(H, W, 90 + t, 25, 140, rng, soft=True, legs=0.8)
        specks = rng.random((H, W)) < 0.002
        f[specks] = rng.integers(1, 256, int(specks.sum()))
        frames.append(f)
    seqs.append(("noisy/bg-02/036", frames))
    return seqs


def _parsing_from(mask, rng):
    """Part labels 1..11 inside a mask, bands from head to feet, label 11 as a 'dress' blob."""
    lab = np.zeros(mask.shape, np.uint8)
    ys, xs = np.nonzero(mask > 127)
    if ys.size == 0:
        return lab
    top, bot = ys.min(), ys.max() + 1
    band = ((ys - top) * 10 // max(1, bot - top)).astype(np.uint8) + 1
    lab[ys, xs] = band
    k = ys.size // 7
    lab[ys[k:k + k // 3], xs[k:k + k // 3]] = 11
    return lab


def silhouette_cases(out, shared):
    rng = np.random.default_rng(1234)
    root = os.path.join(out, "seq_synth")
    proot = os.path.join(out, "seq_parsing")
    c = Container()
    seqs = _synthetic_sequences(rng)
    for name, frames in seqs:
        d = os.path.join(root, name)
        pd = os.path.join(proot, name)
        os.makedirs(d, exist_ok=True)
        os.makedirs(pd, exist_ok=True)
        for i, f in enumerate(frames):
            cv2.imwrite(os.path.join(d, f"{i:03d}.png"), f)
            cv2.imwrite(os.path.join(pd, f"{i:03d}.png"), _parsing_from(f, rng))
        # read back as the reference does (PNG is lossless, but read it to be sure)
        names = sorted(os.listdir(d))
        imgs = [og.imread_grey(os.path.join(d, n)) for n in names]
        pimgs = [og.imread_grey(os.path.join(pd, n)) for n in names]
        for mode, size, src in (("sil", 64, imgs), ("sil", 128, imgs), ("ccpg", 64, imgs), ("parsing", 64, pimgs),
                                ("parsing", 128, pimgs)):
            arr, reasons = og.align_sequence(src, size, mode)
            code = [{"kept": 0, "empty": 1, "no centre": 2, "too thin": 3}[r] for r in reasons]
            c.add(f"{name}/{mode}{size}/frames", arr)
            c.add(f"{name}/{mode}{size}/status", np.array(code, np.int32))
    c.write(os.path.join(out, "sil_synth.bin"))
    print(f"silhouettes: {len(seqs)} synthetic sequences")

    # the real frames (read in place, never copied)
    demo = os.path.join(shared, "silhouettes-demo") if shared else ""
    c = Container()
    n = 0
    if demo and os.path.isdir(demo):
        for sid in sorted(os.listdir(demo)):
            for typ in sorted(os.listdir(os.path.join(demo, sid))):
                for view in sorted(os.listdir(os.path.join(demo, sid, typ))):
                    d = os.path.join(demo, sid, typ, view)
                    names = sorted(x for x in os.listdir(d) if x.endswith(".png"))
                    imgs = [og.imread_grey(os.path.join(d, x)) for x in names]
                    for mode, size in (("sil", 64), ("sil", 128), ("ccpg", 64)):
                        arr, reasons = og.align_sequence(imgs, size, mode)
                        code = [{"kept": 0, "empty": 1, "no centre": 2, "too thin": 3}[r] for r in reasons]
                        c.add(f"{sid}/{typ}/{view}/{mode}{size}/frames", arr)
                        c.add(f"{sid}/{typ}/{view}/{mode}{size}/status", np.array(code, np.int32))
                    n += 1
    c.write(os.path.join(out, "sil_real.bin"))
    print(f"silhouettes: {n} real sequences" + ("" if n else " (shared data not found)"))


# ---------------------------------------------------------------------------------------------
# skeleton maps

def _walker(T, rng, dtype, scale=1.0, x0=300.0, y0=200.0):
    """COCO-17 keypoints of a side-walking figure in image pixels, with confidences."""
    # joint offsets (x, y) relative to the hip centre for a standing figure, height ~ 170 px
    base = np.array([[0, -150], [4, -155], [-4, -155], [8, -152], [-8, -152], [12, -120], [-12, -120],
                     [16, -85], [-16, -85], [18, -55], [-18, -55], [9, 0], [-9, 0], [12, 45], [-12, 45],
                     [10, 90], [-10, 90]], np.float64)
    pose = np.zeros((T, 17, 3), np.float64)
    for t in range(T):
        ph = 2 * np.pi * t / 10.0
        p = base.copy()
        p[13:17:2, 0] += 25 * np.sin(ph)
        p[14:17:2, 0] -= 25 * np.sin(ph)
        p[7:11:2, 0] -= 15 * np.sin(ph)
        p[8:11:2, 0] += 15 * np.sin(ph)
        p = p * scale + [x0 + 4.0 * t, y0 + 2 * np.sin(ph)] + rng.normal(0, 0.7, (17, 2))
        pose[t, :, :2] = p
        pose[t, :, 2] = np.clip(0.55 + 0.45 * rng.random(17), 0, 1)
    return pose.astype(dtype)


def skeleton_cases(out):
    rng = np.random.default_rng(99)
    c = Container()
    cases = []
    p = _walker(12, rng, np.float32)
    cases.append(("walk_f32", p, False))
    p = _walker(10, rng, np.float64, scale=0.6, x0=120.5, y0=333.25)
    cases.append(("walk_f64", p, False))
    p = _walker(14, rng, np.float32)
    p[3, 9] = 0          # a missing wrist (filled from neighbours, still not drawn)
    p[5, 15:17] = 0      # missing ankles
    p[7, :, :] = 0       # a frame without detection
    p[9, 11, 2] = 0.0005  # below eps: not drawn
    p[10, 0, 2] = 1.0
    cases.append(("missing_f32", p, False))
    p = _walker(8, rng, np.float64)
    p[:, 4, :] = 0       # an ear never seen: the imputer gives up, nothing is filled
    p[2, 10, :2] = 0
    cases.append(("never_seen_f64", p, False))
    # OpenPose COCO-18 input
    p17 = _walker(9, rng, np.float32, scale=1.3)
    p18 = np.zeros((9, 18, 3), np.float32)
    inv = {m: i for i, m in enumerate(og.COCO18_TO_17)}
    for j in range(18):
        if j in inv:
            p18[:, j] = p17[:, inv[j]]
        else:  # the neck (index 1 in COCO-18) is not in COCO-17
            p18[:, j] = (p17[:, 5] + p17[:, 6]) / 2
    p18[4, 2, :] = 0
    cases.append(("coco18_f32", p18, True))
    # close joints (limb shorter than one pixel), a joint on the canvas border
    p = _walker(4, rng, np.float64)
    p[1, 12, :2] = p[1, 11, :2] + [0.3, 0.4]
    p[2, 16, 0] += 400
    cases.append(("close_f64", p, False))
    for name, pose, c18 in cases:
        maps = og.skeleton_maps(pose, coco18=c18)
        c.add(f"{name}/pose", pose)
        c.add(f"{name}/coco18", np.array([int(c18)], np.int32))
        c.add(f"{name}/maps", maps)
    c.add("names", np.frombuffer(("\n".join(n for n, _, _ in cases)).encode(), np.uint8))
    # KNN filling on its own (float64), for a direct check of the imputer
    p = _walker(20, rng, np.float64)
    xy = p[..., :2].reshape(20, 34).copy()
    mask = rng.random(xy.shape) < 0.1
    xy[mask] = 0
    c.add("knn/in", xy)
    c.add("knn/out", og.knn_fill(xy))
    c.write(os.path.join(out, "skeleton.bin"))
    # the same poses as files for the loaders: JSON and .npy
    import json
    pose = cases[2][1]
    doc = {"frames": [{"keypoints": [[float(v) for v in j] for j in f]} for f in pose]}
    doc["frames"][7]["keypoints"] = []
    with open(os.path.join(out, "pose_missing.json"), "w") as f:
        json.dump(doc, f)
    np.save(os.path.join(out, "pose_walk_f64.npy"), cases[1][1])
    import pickle
    with open(os.path.join(out, "pose_missing_f32.pkl"), "wb") as f:
        pickle.dump(cases[2][1], f)
    print(f"skeleton: {len(cases)} pose sequences")


def run(out, shared):
    resize_cases(out)
    decode_cases(out)
    silhouette_cases(out, shared)
    skeleton_cases(out)

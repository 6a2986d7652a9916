"""Shared pieces of the model-zoo reference scripts (zoo_*_ref.py): OpenGait's small modules
written from the specifications (deepgaitv2.md §3, classic.md), synthetic inputs, a MAC
counter, and the manifest the C parity driver (tests/zoo/zoo_parity.c) reads.

Not a copy of OpenGait: only the module and key names follow it, so that the state dicts
are the ones an OpenGait checkpoint holds.

Manifest lines (whitespace separated):
    model NAME FILE [config=YAML] [type=MODEL_TYPE]
    info NAME key=value ...            (type, params, total, macs, seq_macs, embed, temporal, inputs, min_frames)
    case NAME CASE LEVELS OUT.npy SEQ [SEQ ...]
where LEVELS holds 'c' (conservative), 'b' (balanced) and/or 'f' (the fused graph on the reference
kernels, a check of the fusion pass apart from the fast kernels) and each SEQ is the
comma-separated input files of one sequence, each as FILE:r (raw, stored width) or FILE:c
(already cut); npy inputs are [T, H, W] or [T, C, H, W], uint8 (divided by the model) or
float32 (used as is).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import randomise_bn, require_torch, save_npy, save_opengait_checkpoint  # noqa: E402,F401

require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from gaitbase_ref import ResNet9, SeparateBNNecks, SeparateFCs, SetBlockWrapper, hpp, silhouettes  # noqa: E402,F401


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride, 0, bias=False)


class BasicBlock2D(nn.Module):
    """Per-frame residual block (torchvision's BasicBlock)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class BasicBlockP3D(nn.Module):
    """Pseudo-3D block: per-frame 3x3 conv, a temporal 3-tap conv added to its output, a second
    per-frame conv, then the shortcut."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = SetBlockWrapper(nn.Sequential(conv3x3(inplanes, planes, stride), nn.BatchNorm2d(planes),
                                                   nn.ReLU(inplace=True)))
        self.conv2 = SetBlockWrapper(nn.Sequential(conv3x3(planes, planes), nn.BatchNorm2d(planes)))
        self.shortcut3d = nn.Conv3d(planes, planes, (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False)
        self.sbn = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        a = self.conv1(x)
        b = self.relu(a + self.sbn(self.shortcut3d(a)))
        c = self.conv2(b)
        return self.relu(c + identity)


class BasicBlock3D(nn.Module):
    def __init__(self, inplanes, planes, stride=(1, 1, 1), downsample=None):
        super().__init__()
        tp = 1 if stride[0] in (1, 2) else 0
        self.conv1 = nn.Conv3d(inplanes, planes, 3, stride, (tp, 1, 1), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def make_layer(block, inplanes, planes, stride, blocks, mode):
    """First block strided with a projection shortcut when the stride or width changes."""
    s = max(stride) if isinstance(stride, (list, tuple)) else stride
    downsample = None
    if s > 1 or inplanes != planes:
        if mode == "2d":
            downsample = nn.Sequential(conv1x1(inplanes, planes, s), nn.BatchNorm2d(planes))
        else:
            downsample = nn.Sequential(nn.Conv3d(inplanes, planes, 1, (1, s, s), 0, bias=False), nn.BatchNorm3d(planes))
    st = s if mode in ("2d", "p3d") else (1, s, s)
    layers = [block(inplanes, planes, st, downsample)]
    one = 1 if mode in ("2d", "p3d") else (1, 1, 1)
    layers += [block(planes, planes, one) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def bnneck_emb2(bnnecks, x):
    """use_emb2: BN1d over the flattened (C*P) features, then each part's vector L2-normalised."""
    n, c, p = x.shape
    y = bnnecks.bn1d(x.reshape(n, -1)).reshape(n, c, p)
    return torch.nn.functional.normalize(y, dim=1)


def he_init(model, seed):
    """He-normal conv weights, so that activations keep their scale through BN-free stacks
    (GaitSet, GaitPart, GaitGL) and the embeddings are not vanishingly small."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)


# ---- inputs -----------------------------------------------------------------------------------

def heatmaps(gen, t, h=64, w=64):
    """Two skeleton-map-like channels (limbs, joints): soft blobs that move, uint8 as stored."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.zeros(t, 2, h, w)
    phase = torch.rand(1, generator=gen).item() * 6
    for f in range(t):
        for c in range(2):
            for j in range(4):
                cx = w / 2 + (8 + 4 * j) * np.sin(0.3 * f + phase + j + c)
                cy = 10 + 13 * j
                r2 = (xx - cx) ** 2 + (yy - cy) ** 2
                out[f, c] = torch.maximum(out[f, c], torch.exp(-r2 / (2 * (4.0 + 2 * c) ** 2)))
    return (out * 255).floor().clamp(0, 255).to(torch.uint8)


def silhouettes_u8(gen, t, h=64, w=64):
    """Silhouette frames as stored (uint8, 64 wide before the test-time cut)."""
    return (silhouettes(gen, 1, t, h, w)[0] * 255).round().to(torch.uint8)


def cut(x, width):
    """The test transform's cut: (W - width) / 2 columns off each side."""
    c = (x.shape[-1] - width) // 2
    return x[..., c:x.shape[-1] - c]


# ---- MACs -------------------------------------------------------------------------------------

class MacCounter:
    """Counts convolution MACs (output elements x Cin/groups x kernel volume) and SeparateFCs
    products, the way the specifications count them."""

    def __init__(self, model):
        self.macs = 0
        self.handles = []
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                self.handles.append(m.register_forward_hook(self.hook))
            elif isinstance(m, SeparateFCs):
                self.handles.append(m.register_forward_hook(self.fc_hook))

    def hook(self, m, inp, out):
        w = m.weight
        k = 1
        for d in w.shape[1:]:
            k *= d
        self.macs += out.numel() * k

    def fc_hook(self, m, inp, out):
        p, cin, cout = m.fc_bin.shape
        self.macs += inp[0].shape[0] * p * cin * cout

    def close(self):
        for h in self.handles:
            h.remove()


def count_macs(model, make_input, t1, t2):
    """(per frame, per sequence) MACs from runs at two lengths."""
    counter = MacCounter(model)
    with torch.no_grad():
        counter.macs = 0
        model(*make_input(t1))
        m1 = counter.macs
        counter.macs = 0
        model(*make_input(t2))
        m2 = counter.macs
    counter.close()
    per_frame = (m2 - m1) / (t2 - t1)
    return per_frame, m1 - t1 * per_frame


def count_params(model, skip=("BNNecks",)):
    """Learnable parameters outside the training heads (BN running statistics are buffers)."""
    return sum(p.numel() for n, p in model.named_parameters() if not any(n.startswith(s) for s in skip))


def count_total(model):
    return sum(v.numel() for k, v in model.state_dict().items() if "running_" not in k and "num_batches" not in k)


# ---- manifest ---------------------------------------------------------------------------------

class Manifest:
    def __init__(self, outdir):
        self.outdir = outdir
        os.makedirs(outdir, exist_ok=True)
        self.lines = []

    def model(self, name, model, config=None, model_type=None, iteration=60000):
        path = os.path.join(self.outdir, f"{name}.pt")
        save_opengait_checkpoint(model, path, iteration)
        extra = ""
        if config:
            cpath = os.path.join(self.outdir, f"{name}.yaml")
            with open(cpath, "w") as f:
                f.write(config)
            extra += f" config={os.path.basename(cpath)}"
        if model_type:
            extra += f" type={model_type}"
        self.lines.append(f"model {name} {os.path.basename(path)}{extra}")

    def info(self, name, **kv):
        self.lines.append(f"info {name} " + " ".join(f"{k}={v}" for k, v in kv.items()))

    def case(self, name, case, levels, seqs, out):
        """seqs: list of sequences, each a list of (array, raw); out: [n, C, P] tensor. Short
        cases also run the fused graph on the reference kernels (level 'f'); levels ending in
        '-' are taken as they are."""
        if levels.endswith("-"):
            levels = levels[:-1]
        elif "c" in levels and "f" not in levels and sum(seq[0][0].shape[0] for seq in seqs) <= 30:
            levels += "f"
        specs = []
        for i, seq in enumerate(seqs):
            files = []
            for k, (arr, raw) in enumerate(seq):
                fn = f"{name}_{case}_s{i}_in{k}.npy"
                a = arr.numpy() if torch.is_tensor(arr) else arr
                if a.dtype == np.uint8:
                    np.save(os.path.join(self.outdir, fn), np.ascontiguousarray(a))
                else:
                    save_npy(os.path.join(self.outdir, fn), a)
                files.append(f"{fn}:{'r' if raw else 'c'}")
            specs.append(",".join(files))
        ofn = f"{name}_{case}_out.npy"
        save_npy(os.path.join(self.outdir, ofn), out.numpy())
        self.lines.append(f"case {name} {case} {levels} {ofn} " + " ".join(specs))

    def write(self):
        with open(os.path.join(self.outdir, "manifest.txt"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


def to_float(x_u8):
    """What the test transform hands the network: uint8 / 255 as float32."""
    return x_u8.to(torch.float32) / 255.0


def add_silhouette_cases(man, gen, name, model, cases, levels, as_input):
    """Cases of a single-input silhouette model: per case, sequences of the given lengths from
    gen, handed to gaitrt alternately raw (stored width, uint8) and already cut to floats;
    as_input(net) makes the network's input from the cut float frames [T, 64, 44]."""
    for case, lengths in cases.items():
        seqs, outs = [], []
        for i, t in enumerate(lengths):
            raw = silhouettes_u8(gen, t)
            net = to_float(cut(raw, 44))
            with torch.no_grad():
                outs.append(model(as_input(net)))
            seqs.append([(raw, True)] if i % 2 == 0 else [(net, False)])
        man.case(name, case, levels[case] if isinstance(levels, dict) else levels, seqs, torch.cat(outs, 0))

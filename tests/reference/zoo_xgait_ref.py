"""PyTorch reference for XGait (xgait.md), written from the specification with the key
names of Gait3D-Benchmark: two ResNet9 backbones (silhouettes, parsing labels), the global
cross-granularity module (channel weights from both streams' spatial means), the three part
cross-granularity modules (top-quarter pooling of the silhouette stream, label-masked pooling
of the parsing stream, per-row-range outputs), temporal max, HPP and four SeparateFCs whose
outputs are concatenated along the parts. Random weights, randomised BN statistics and gammas.

Inputs: parsing labels [T, 64, 64] uint8 (0..11, divided by 1 since their maximum is not 255)
and silhouettes [T, 64, 64] uint8 (divided by 255), both cut to 44 columns.

usage: zoo_xgait_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_common import (Manifest, ResNet9, SeparateBNNecks, SeparateFCs, SetBlockWrapper, count_macs,  # noqa: E402
                        count_params, count_total, cut, hpp, randomise_bn, silhouettes_u8)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def mean_max(z):
    """mean + max over the last two axes"""
    return z.mean((-2, -1)) + z.amax((-2, -1))


class CALayers(nn.Module):
    """Global alignment: z = sigmoid(W2 ReLU(W1 [mean(X); mean(Y)])); X z[:c] + Y z[c:]."""

    def __init__(self, channels, reduction):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(2 * channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, 2 * channels, bias=False))

    def forward(self, x, y):  # [n, c, s, h, w] each
        c = x.shape[1]
        z = torch.cat([x.mean((3, 4)), y.mean((3, 4))], 1)                     # [n, 2c, s]
        z = torch.sigmoid(self.fc(z.transpose(1, 2))).transpose(1, 2)          # [n, 2c, s]
        z = z[..., None, None]
        return x * z[:, :c] + y * z[:, c:]


PART_LABELS = {"up": (1,), "middle": (2, 3, 4, 5, 6, 11), "down": (7, 8, 9, 10, 11)}


class CALayersP(nn.Module):
    """Part alignment for one part: rows of the part from X z[:c] + Y z[c:], with z from the top
    quarter of X and the label-weighted parsing features."""

    def __init__(self, channels, reduction, part):
        super().__init__()
        self.part = part
        self.gammas = nn.Parameter(torch.ones(1) * 0.75)
        self.fc = nn.Sequential(nn.Linear(2 * channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, 2 * channels, bias=False))

    def forward(self, x, y, labels):  # x, y [n, c, s, h, w]; labels [n, s, h, w] (float)
        c, h = x.shape[1], x.shape[3]
        q = h // 4
        xs = mean_max(x[:, :, :, :q])                                            # [n, c, s]
        lab = labels.long()
        mask = torch.zeros_like(lab, dtype=torch.bool)
        for v in PART_LABELS[self.part]:
            mask |= lab == v
        w = torch.where(mask, self.gammas, 1 - self.gammas).unsqueeze(1)       # [n, 1, s, h, w]
        ys = mean_max(y * w)
        z = torch.sigmoid(self.fc(torch.cat([xs, ys], 1).transpose(1, 2))).transpose(1, 2)[..., None, None]
        rows = {"up": (0, q), "middle": (q, 3 * q), "down": (3 * q, 4 * q)}[self.part]
        sl = slice(*rows)
        return x[:, :, :, sl] * z[:, :c] + y[:, :, :, sl] * z[:, c:]


class XGait(nn.Module):
    def __init__(self, channels=(64, 128, 256, 512), out_channels=256, class_num=3000, reduction=16):
        super().__init__()
        c = channels[-1]
        self.Backbone_sil = SetBlockWrapper(ResNet9(channels, (1, 1, 1, 1), (1, 2, 2, 1)))
        self.Backbone_par = SetBlockWrapper(ResNet9(channels, (1, 1, 1, 1), (1, 2, 2, 1)))
        self.gcm = CALayers(c, reduction)
        self.pcm_up = CALayersP(c, reduction, "up")
        self.pcm_middle = CALayersP(c, reduction, "middle")
        self.pcm_down = CALayersP(c, reduction, "down")
        for s in ("sil", "par", "gcm", "pcm"):
            setattr(self, f"FCs_{s}", SeparateFCs(16, c, out_channels))
        for s in ("sil", "par", "gcm", "pcm"):
            setattr(self, f"BNNecks_{s}", SeparateBNNecks(16, out_channels, class_num))

    def forward(self, pars, sils):  # [n, s, h, w] each, after the test transform
        X = self.Backbone_sil(sils.unsqueeze(1))
        Y = self.Backbone_par(pars.unsqueeze(1))
        G = self.gcm(X, Y)
        M = F.interpolate(pars, size=X.shape[3:], mode="nearest")             # [n, s, 16, 11]
        P = torch.cat([self.pcm_up(X, Y, M), self.pcm_middle(X, Y, M), self.pcm_down(X, Y, M)], 3)
        outs = []
        for s, f in (("sil", X), ("par", Y), ("gcm", G), ("pcm", P)):
            outs.append(getattr(self, f"FCs_{s}")(hpp(f.max(2)[0], [16])))
        return torch.cat(outs, -1)


def parsing_u8(sil_u8, gen):
    """Part labels on the silhouette's foreground: horizontal bands and left/right halves
    give every label 1..11, background 0."""
    t, h, w = sil_u8.shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    shift = int(torch.randint(0, 5, (1,), generator=gen))
    lab = 1 + ((yy // 6 + shift) * 2 + (xx >= w // 2).long()) % 11
    return torch.where(sil_u8 > 100, lab.expand(t, h, w), torch.zeros_like(lab)).to(torch.uint8)


def add_model(man, gen, name, cases, levels, **kw):
    model = XGait(**kw)
    randomise_bn(model, 11)
    with torch.no_grad():
        for part in ("up", "middle", "down"):
            getattr(model, f"pcm_{part}").gammas.fill_(0.55 + 0.4 * torch.rand(1).item())
    model.eval()
    man.model(name, model)
    per_frame, per_seq = count_macs(model, lambda t: (torch.randint(0, 12, (1, t, 64, 44)).float(),
                                                      torch.rand(1, t, 64, 44)), 3, 6)
    man.info(name, type="XGait", params=count_params(model, ("BNNecks",)), total=count_total(model),
             macs=f"{per_frame:.0f}", seq_macs=f"{per_seq:.0f}", embed=f"{model.FCs_sil.fc_bin.shape[2]}x64", temporal=0,
             inputs=2)
    for case, lengths in cases.items():
        seqs, outs = [], []
        for t in lengths:
            sil = silhouettes_u8(gen, t)
            par = parsing_u8(sil, gen)
            # BaseParsingCuttingTransform: cut, then /255 only when the maximum is 255
            p = cut(par, 44).float()
            p = p / 255.0 if p.max() == 255 else p
            s = cut(sil, 44).float()
            s = s / 255.0 if s.max() == 255 else s
            with torch.no_grad():
                outs.append(model(p.unsqueeze(0), s.unsqueeze(0)))
            seqs.append([(par, True), (sil, True)])
        man.case(name, case, levels[case] if isinstance(levels, dict) else levels, seqs, torch.cat(outs, 0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(13)
    torch.manual_seed(600)
    add_model(man, gen, "xgait_small", {"t1": [1], "t30": [30], "t100": [100], "batch2": [12, 20]}, "cb",
              channels=(8, 16, 32, 64), out_channels=32, class_num=10, reduction=4)
    torch.manual_seed(601)
    add_model(man, gen, "xgait_full", {"t1": [1], "t3": [3]}, {"t1": "cbf", "t3": "b-"}, class_num=20)
    man.write()
    print(f"XGait reference written to {outdir}")


if __name__ == "__main__":
    main()

"""PyTorch reference for GaitGL (classic.md §3), both architecture branches (CASIA-B and
OU-MVLP/GREW) and the BNNeck head, written from the specification with OpenGait's key names:
tiling of sequences shorter than 3 frames, 3-D convs, the stride-3 LTA, GLConv (global conv +
the same local conv on horizontal strips), temporal max, GeM HPP with a learned p, Head0 and
the Bn whose output is the embedding. Random weights, randomised BN statistics and GeM p.

usage: zoo_gaitgl_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_common import (Manifest, SeparateBNNecks, SeparateFCs, add_silhouette_cases, count_macs, count_params,  # noqa: E402
                        count_total, cut, he_init, randomise_bn, silhouettes_u8, to_float)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class BasicConv3d(nn.Module):
    def __init__(self, cin, cout, k=3, s=1, p=1):
        super().__init__()
        self.conv3d = nn.Conv3d(cin, cout, k, s, p, bias=False)

    def forward(self, x):
        return self.conv3d(x)


class GLConv(nn.Module):
    def __init__(self, cin, cout, halving, fm_sign=False):
        super().__init__()
        self.halving, self.fm_sign = halving, fm_sign
        self.global_conv3d = BasicConv3d(cin, cout)
        self.local_conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        g = self.global_conv3d(x)
        if self.halving == 0:
            lc = self.local_conv3d(x)
        else:
            strip = x.size(3) // 2 ** self.halving
            lc = torch.cat([self.local_conv3d(z) for z in x.split(strip, 3)], 3)
        if self.fm_sign:
            return F.leaky_relu(torch.cat([g, lc], 3))
        return F.leaky_relu(g) + F.leaky_relu(lc)


class GeMHPP(nn.Module):
    def __init__(self, bins=(64,), p=6.5, eps=1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)
        self.bins, self.eps = bins, eps

    def forward(self, x):
        n, c = x.shape[:2]
        out = []
        for b in self.bins:
            z = x.view(n, c, b, -1).clamp(min=self.eps).pow(self.p)
            out.append(F.avg_pool2d(z, (1, z.size(-1))).pow(1.0 / self.p).squeeze(-1))
        return torch.cat(out, -1)


class GaitGL(nn.Module):
    def __init__(self, channels=(32, 64, 128), oumvlp=False, class_num=74, bnneck=False):
        super().__init__()
        c = channels
        if not oumvlp:
            self.conv3d = nn.Sequential(BasicConv3d(1, c[0]), nn.LeakyReLU(inplace=True))
            self.GLConvA0 = GLConv(c[0], c[1], 3)
            self.GLConvA1 = GLConv(c[1], c[2], 3)
            self.GLConvB2 = GLConv(c[2], c[2], 3, True)
            cl = c[2]
        else:
            self.conv3d = nn.Sequential(BasicConv3d(1, c[0]), nn.LeakyReLU(inplace=True), BasicConv3d(c[0], c[0]),
                                        nn.LeakyReLU(inplace=True))
            self.GLConvA0 = nn.Sequential(GLConv(c[0], c[1], 1), GLConv(c[1], c[1], 1))
            self.GLConvA1 = nn.Sequential(GLConv(c[1], c[2], 1), GLConv(c[2], c[2], 1))
            self.GLConvB2 = nn.Sequential(GLConv(c[2], c[3], 1), GLConv(c[3], c[3], 1, True))
            cl = c[3]
        self.LTA = nn.Sequential(BasicConv3d(c[0], c[0], (3, 1, 1), (3, 1, 1), (0, 0, 0)), nn.LeakyReLU(inplace=True))
        self.MaxPool0 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.HPP = GeMHPP()
        self.Head0 = SeparateFCs(64, cl, cl)
        self.bnneck = bnneck
        if bnneck:
            self.BNNecks = SeparateBNNecks(64, cl, class_num)
        else:
            self.Bn = nn.BatchNorm1d(cl)
            self.Head1 = SeparateFCs(64, cl, class_num)

    def forward(self, sils):  # [n, s, h, w], one sequence per item
        s = sils.size(1)
        if s < 3:
            sils = sils.repeat(1, 3 if s == 1 else 2, 1, 1)
        x = self.conv3d(sils.unsqueeze(1))
        x = self.LTA(x)
        x = self.GLConvA1(self.MaxPool0(self.GLConvA0(x)))
        x = self.GLConvB2(x)
        x = self.HPP(x.max(2)[0])
        x = self.Head0(x)
        return x if self.bnneck else self.Bn(x)


def calibrate_bn(model, gen):
    """Bn statistics near those of the Head0 features on silhouettes, as after training, so that
    the embedding varies with the input rather than being Bn's shift."""
    if model.bnneck:
        return
    model.eval()
    with torch.no_grad():
        x = torch.stack([to_float(cut(silhouettes_u8(gen, 6), 44)) for _ in range(3)])
        bn, model.Bn = model.Bn, nn.Identity()
        f = model(x)                                          # [3, C, 64]
        model.Bn = bn
        mean, var = f.mean((0, 2)), f.var((0, 2)) + 1e-6
        bn.running_mean.copy_(mean * (0.8 + 0.4 * torch.rand(mean.shape)))
        bn.running_var.copy_(var * (0.5 + torch.rand(var.shape)))


def add_model(man, gen, name, cases, levels, **kw):
    model = GaitGL(**kw)
    randomise_bn(model, 11)
    he_init(model, 12)
    with torch.no_grad():
        model.HPP.p.fill_(3.0 + torch.rand(1).item())
    calibrate_bn(model, gen)
    model.eval()
    man.model(name, model)
    per_frame, per_seq = count_macs(model, lambda t: (torch.rand(1, t, 64, 44),), 3, 6)
    man.info(name, type="GaitGL", params=count_params(model, ("Head1", "BNNecks")), total=count_total(model),
             macs=f"{per_frame:.0f}", seq_macs=f"{per_seq:.0f}", embed=f"{model.Head0.fc_bin.shape[2]}x64", temporal=1,
             inputs=1)
    add_silhouette_cases(man, gen, name, model, cases, levels, lambda net: net.unsqueeze(0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(11)
    cases = {"t1": [1], "t2": [2], "t5": [5], "t30": [30], "t100": [100], "batch2": [20, 20]}
    torch.manual_seed(500)
    add_model(man, gen, "gaitgl_casiab_small", cases, "cb", channels=(8, 16, 32))
    torch.manual_seed(501)
    add_model(man, gen, "gaitgl_oumvlp_small", cases, "cb", channels=(4, 8, 16, 32), oumvlp=True, class_num=50)
    torch.manual_seed(502)
    add_model(man, gen, "gaitgl_bnneck_small", {"t1": [1], "t30": [30]}, "cb", channels=(4, 8, 16, 32), oumvlp=True,
              class_num=20, bnneck=True)
    torch.manual_seed(503)
    add_model(man, gen, "gaitgl_casiab", {"t3": [3]}, "cb")
    man.write()
    print(f"GaitGL reference written to {outdir}")


if __name__ == "__main__":
    main()

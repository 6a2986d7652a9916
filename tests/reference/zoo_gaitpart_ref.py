"""PyTorch reference for GaitPart (classic.md §2), written from the specification with
OpenGait's key names: the `Plain` backbone with focal convolutions (the same conv applied to
each horizontal strip), per-frame HPP, the temporal feature aggregator (per part: two
micro-motion templates weighted by sigmoid scores from per-part 1-D convolutions, max over
the frames), SeparateFCs. Random weights (no BatchNorm).

usage: zoo_gaitpart_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gaitbase_ref import BasicConv2d  # noqa: E402
from zoo_common import (Manifest, SeparateFCs, SetBlockWrapper, add_silhouette_cases, count_macs, count_params,  # noqa: E402
                        count_total, he_init, hpp)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

CASIAB = ["BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3"]
OUMVLP = ["BC-32", "BC-32", "M", "BC-64", "BC-64", "M", "FC-128-3", "FC-128-3", "FC-256-3", "FC-256-3"]


class FocalConv2d(nn.Module):
    """One conv applied to each of the 2^halving horizontal strips separately."""

    def __init__(self, cin, cout, k, halving, padding):
        super().__init__()
        self.halving = halving
        self.conv = nn.Conv2d(cin, cout, k, 1, padding, bias=False)

    def forward(self, x):
        if self.halving == 0:
            return self.conv(x)
        strip = x.size(2) // 2 ** self.halving
        return torch.cat([self.conv(z) for z in x.split(strip, 2)], 2)


class Plain(nn.Module):
    def __init__(self, layers_cfg, in_channels=1, scale=1):
        super().__init__()
        layers, cin = [], in_channels
        for i, entry in enumerate(layers_cfg):
            if entry == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            parts = entry.split("-")
            cout = int(parts[1]) // scale
            k, p = (5, 2) if i == 0 else (3, 1)
            if parts[0] == "BC":
                layers.append(BasicConv2d(cin, cout, k, 1, p))
            else:
                layers.append(FocalConv2d(cin, cout, k, int(parts[2]), p))
            layers.append(nn.LeakyReLU(inplace=True))
            cin = cout
        self.feature = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, x):
        return self.feature(x)


class BasicConv1d(nn.Module):
    def __init__(self, cin, cout, k, padding):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, 1, padding, bias=False)

    def forward(self, x):
        return self.conv(x)


class TemporalFeatureAggregator(nn.Module):
    def __init__(self, c, squeeze=4, parts=16):
        super().__init__()
        h = c // squeeze
        self.conv1d3x1 = nn.ModuleList([nn.Sequential(BasicConv1d(c, h, 3, 1), nn.LeakyReLU(inplace=True),
                                                      BasicConv1d(h, c, 1, 0)) for _ in range(parts)])
        self.conv1d3x3 = nn.ModuleList([nn.Sequential(BasicConv1d(c, h, 3, 1), nn.LeakyReLU(inplace=True),
                                                      BasicConv1d(h, c, 3, 1)) for _ in range(parts)])
        self.avg3, self.max3 = nn.AvgPool1d(3, 1, 1), nn.MaxPool1d(3, 1, 1)
        self.avg5, self.max5 = nn.AvgPool1d(5, 1, 2), nn.MaxPool1d(5, 1, 2)

    def forward(self, x):  # [n, c, s, p] -> [n, c, p]
        out = []
        for p in range(x.shape[3]):
            xp = x[..., p]                                              # [n, c, s]
            s1 = torch.sigmoid(self.conv1d3x1[p](xp))
            s2 = torch.sigmoid(self.conv1d3x3[p](xp))
            f = (self.avg3(xp) + self.max3(xp)) * s1 + (self.avg5(xp) + self.max5(xp)) * s2
            out.append(f.max(-1)[0])
        return torch.stack(out, -1)


class PackSequenceWrapper(nn.Module):
    """Only the key level `pooling_func.`; one sequence per call here."""

    def __init__(self, pooling_func):
        super().__init__()
        self.pooling_func = pooling_func

    def forward(self, x):
        return self.pooling_func(x)


class GaitPart(nn.Module):
    def __init__(self, layers_cfg=CASIAB, out_channels=128, scale=1):
        super().__init__()
        plain = Plain(layers_cfg, scale=scale)
        c = plain.out_channels
        self.Backbone = SetBlockWrapper(plain)
        self.Head = SeparateFCs(16, c, out_channels)
        self.TFA = PackSequenceWrapper(TemporalFeatureAggregator(c))

    def forward(self, x):  # [n, 1, s, h, w]
        x = self.Backbone(x)                                            # [n, c, s, h, w]
        n, c, s, h, w = x.shape
        x = hpp(x.transpose(1, 2).reshape(n * s, c, h, w), [16])       # per frame
        x = x.reshape(n, s, c, 16).transpose(1, 2)                      # [n, c, s, 16]
        return self.Head(self.TFA(x))


def add_model(man, gen, name, cases, levels, **kw):
    model = GaitPart(**kw)
    he_init(model, 12)
    model.eval()
    man.model(name, model)
    per_frame, per_seq = count_macs(model, lambda t: (torch.rand(1, 1, t, 64, 44),), 3, 6)
    man.info(name, type="GaitPart", params=count_params(model), total=count_total(model), macs=f"{per_frame:.0f}",
             seq_macs=f"{per_seq:.0f}", embed=f"{model.Head.fc_bin.shape[2]}x16", temporal=1, inputs=1)
    add_silhouette_cases(man, gen, name, model, cases, levels, lambda net: net.unsqueeze(0).unsqueeze(0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(9)
    cases = {"t1": [1], "t2": [2], "t30": [30], "t100": [100], "batch2": [20, 20]}
    torch.manual_seed(400)
    add_model(man, gen, "gaitpart_casiab_small", cases, "cb", layers_cfg=CASIAB, out_channels=16, scale=4)
    torch.manual_seed(401)
    add_model(man, gen, "gaitpart_oumvlp_small", {"t1": [1], "t30": [30], "t100": [100], "batch2": [9, 9]}, "cb",
              layers_cfg=OUMVLP, out_channels=32, scale=8)
    torch.manual_seed(402)
    add_model(man, gen, "gaitpart_casiab", {"t1": [1], "t6": [6]}, "cb", layers_cfg=CASIAB)
    man.write()
    print(f"GaitPart reference written to {outdir}")


if __name__ == "__main__":
    main()

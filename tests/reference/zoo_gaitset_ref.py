"""PyTorch reference for GaitSet (classic.md §1), written from the specification with
OpenGait's key names: per-frame set blocks, set pooling (max over each sequence's frames)
feeding the global blocks, HPP with bins [16, 8, 4, 2, 1] on both paths, SeparateFCs over the
62 parts. Random weights (GaitSet has no BatchNorm).

usage: zoo_gaitset_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gaitbase_ref import BasicConv2d  # noqa: E402
from zoo_common import (Manifest, SeparateFCs, SetBlockWrapper, add_silhouette_cases, count_macs, count_params,  # noqa: E402
                        count_total, he_init, hpp)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def conv_pair(cin, cout, first_k, pool):
    layers = [BasicConv2d(cin, cout, first_k, 1, first_k // 2), nn.LeakyReLU(inplace=True),
              BasicConv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class GaitSet(nn.Module):
    def __init__(self, in_channels=(1, 32, 64, 128), out_channels=256, bins=(16, 8, 4, 2, 1)):
        super().__init__()
        c = in_channels
        self.set_block1 = SetBlockWrapper(conv_pair(c[0], c[1], 5, True))
        self.set_block2 = SetBlockWrapper(conv_pair(c[1], c[2], 3, True))
        self.set_block3 = SetBlockWrapper(conv_pair(c[2], c[3], 3, False))
        self.gl_block2 = conv_pair(c[1], c[2], 3, True)
        self.gl_block3 = conv_pair(c[2], c[3], 3, False)
        self.Head = SeparateFCs(2 * sum(bins), c[3], out_channels)
        self.bins = bins

    def forward(self, x):  # [n, 1, s, h, w]: one sequence per item
        sp = lambda z: z.max(2)[0]  # noqa: E731  set pooling
        o = self.set_block1(x)
        g = self.gl_block2(sp(o))
        o = self.set_block2(o)
        g = self.gl_block3(g + sp(o))
        o = sp(self.set_block3(o))
        g = g + o
        return self.Head(torch.cat([hpp(o, self.bins), hpp(g, self.bins)], -1))


def add_model(man, gen, name, cases, levels, **kw):
    model = GaitSet(**kw)
    he_init(model, 12)
    model.eval()
    man.model(name, model)
    per_frame, per_seq = count_macs(model, lambda t: (torch.rand(1, 1, t, 64, 44),), 3, 6)
    man.info(name, type="GaitSet", params=count_params(model), total=count_total(model), macs=f"{per_frame:.0f}",
             seq_macs=f"{per_seq:.0f}", embed=f"{model.Head.fc_bin.shape[2]}x62", temporal=0, inputs=1)
    add_silhouette_cases(man, gen, name, model, cases, levels, lambda net: net.unsqueeze(0).unsqueeze(0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(7)
    cases = {"t1": [1], "t30": [30], "t100": [100], "batch2": [12, 20]}
    torch.manual_seed(300)
    add_model(man, gen, "gaitset_small", cases, "cb", in_channels=(1, 8, 16, 32), out_channels=32)
    torch.manual_seed(301)
    add_model(man, gen, "gaitset_casiab", {"t1": [1], "t4": [4]}, "cb")
    man.write()
    print(f"GaitSet reference written to {outdir}")


if __name__ == "__main__":
    main()

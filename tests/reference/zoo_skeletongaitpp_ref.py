"""PyTorch reference for SkeletonGait++ (skeletongaitpp.md): a silhouette branch and a
skeleton-map branch (per-frame conv + BasicBlock2D stages), attention fusion (a per-pixel
softmax between the two branches), then DeepGaitV2's P3D stages and head. Written from the
specification with OpenGait's key names; random weights, randomised BN statistics.

The input assembly follows §2: heat maps [T, 2, 64, 64] and silhouettes [T, 64, 64] or
[T, 64, 44] are both cut to 44 columns and divided by 255.

The reduced-width models use squeeze ratios 4 and 2 in the fusion so that its hidden width is
not zero; the C side reads the hidden width from the weights.

usage: zoo_skeletongaitpp_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_common import (BasicBlock2D, BasicBlockP3D, Manifest, SeparateBNNecks, SeparateFCs, SetBlockWrapper,  # noqa: E402
                        conv1x1, conv3x3, count_macs, count_params, count_total, cut, heatmaps, hpp, make_layer,
                        randomise_bn, silhouettes_u8, to_float)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


class AttentionFusion(nn.Module):
    def __init__(self, in_channels=64, squeeze_ratio=16):
        super().__init__()
        hidden = int(in_channels / squeeze_ratio)
        self.conv = SetBlockWrapper(nn.Sequential(
            conv1x1(in_channels * 2, hidden), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            conv3x3(hidden, hidden), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            conv1x1(hidden, in_channels * 2)))

    def forward(self, sil_feat, map_feat):
        n, c, s, h, w = sil_feat.shape
        score = self.conv(torch.cat([sil_feat, map_feat], dim=1))      # [n, 2c, s, h, w]
        score = torch.softmax(score.view(n, 2, c, s, h, w), dim=1)     # per channel: (sil, map)
        return sil_feat * score[:, 0] + map_feat * score[:, 1]


class SkeletonGaitPP(nn.Module):
    def __init__(self, blocks=(1, 1, 1, 1), channels=(64, 128, 256, 512), class_num=250, squeeze_ratio=16):
        super().__init__()
        c = channels
        self.sil_layer0 = SetBlockWrapper(nn.Sequential(conv3x3(1, c[0]), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)))
        self.map_layer0 = SetBlockWrapper(nn.Sequential(conv3x3(2, c[0]), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)))
        self.sil_layer1 = SetBlockWrapper(make_layer(BasicBlock2D, c[0], c[0], 1, blocks[0], "2d"))
        self.map_layer1 = SetBlockWrapper(make_layer(BasicBlock2D, c[0], c[0], 1, blocks[0], "2d"))
        self.fusion = AttentionFusion(c[0], squeeze_ratio)
        self.layer2 = make_layer(BasicBlockP3D, c[0], c[1], 2, blocks[1], "p3d")
        self.layer3 = make_layer(BasicBlockP3D, c[1], c[2], 2, blocks[2], "p3d")
        self.layer4 = make_layer(BasicBlockP3D, c[2], c[3], 1, blocks[3], "p3d")
        self.FCs = SeparateFCs(16, c[3], c[2])
        self.BNNecks = SeparateBNNecks(16, c[2], class_num)

    def forward(self, x):  # [n, 3, s, 64, 44]: bone, joint, silhouette
        maps, sils = x[:, :2], x[:, 2:3]
        m = self.map_layer1(self.map_layer0(maps))
        s = self.sil_layer1(self.sil_layer0(sils))
        x = self.fusion(s, m)
        x = self.layer4(self.layer3(self.layer2(x)))
        x = x.max(2)[0]
        return self.FCs(hpp(x, [16]))


def sequence(gen, t, sil_width):
    """Heat map [T, 2, 64, 64] and silhouette [T, 64, sil_width] as stored, and the network input."""
    hm = heatmaps(gen, t)
    sil = silhouettes_u8(gen, t)
    if sil_width == 44:
        sil = cut(sil, 44)
    # §2: the heat map is cut to the silhouette's width, the two are stacked, then the test
    # transform cuts 64 -> 44 (a 44-wide stack is left as it is) and divides by 255
    hm_c = cut(hm, sil.shape[-1])
    stack = torch.cat([hm_c, sil.unsqueeze(1)], 1)
    stack = cut(stack, 44) if stack.shape[-1] == 64 else stack
    net = to_float(stack).permute(1, 0, 2, 3).unsqueeze(0)
    return hm, sil, net


def add_model(man, gen, name, cases, levels, **kw):
    model = SkeletonGaitPP(**kw)
    randomise_bn(model, 11)
    model.eval()
    man.model(name, model)
    per_frame, per_seq = count_macs(model, lambda t: (torch.rand(1, 3, t, 64, 44),), 3, 6)
    man.info(name, type="SkeletonGaitPP", params=count_params(model), total=count_total(model), macs=f"{per_frame:.0f}",
             seq_macs=f"{per_seq:.0f}", embed=f"{model.FCs.fc_bin.shape[2]}x16", temporal=1, inputs=2)
    for case, lengths in cases.items():
        seqs, outs = [], []
        for i, t in enumerate(lengths):
            # even sequences: 64-wide silhouettes (cut by the runtime); odd: 64x44 pickles
            hm, sil, net = sequence(gen, t, 64 if i % 2 == 0 else 44)
            with torch.no_grad():
                outs.append(model(net))
            seqs.append([(hm, True), (sil, True)])
        man.case(name, case, levels[case] if isinstance(levels, dict) else levels, seqs, torch.cat(outs, 0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(5)
    small = dict(channels=(16, 16, 32, 64), squeeze_ratio=4)
    torch.manual_seed(200)
    add_model(man, gen, "sgpp_1111_small", {"t1": [1], "t30": [30], "t100": [100], "batch2": [20, 20]}, "cb",
              blocks=(1, 1, 1, 1), **small)
    torch.manual_seed(201)
    add_model(man, gen, "sgpp_1441_small", {"t1": [1], "t30": [30], "t100": [100], "batch2": [15, 15]}, "cb",
              blocks=(1, 4, 4, 1), channels=(8, 8, 16, 32), squeeze_ratio=2)
    torch.manual_seed(202)
    add_model(man, gen, "sgpp_1111_full", {"t1": [1], "t2": [2]}, {"t1": "cbf", "t2": "b-"}, blocks=(1, 1, 1, 1))
    man.write()
    print(f"SkeletonGait++ reference written to {outdir}")


if __name__ == "__main__":
    main()

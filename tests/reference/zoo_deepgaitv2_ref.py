"""PyTorch reference for DeepGaitV2 (modes 2d, p3d, 3d; any block counts) and SkeletonGait
(the same class with 2-channel heat-map input, optionally use_emb2), written from
deepgaitv2.md and skeletongaitpp.md §6 with OpenGait's key names. Random weights,
randomised BN statistics; writes OpenGait-style checkpoints, inputs, expected embeddings and
a manifest for tests/zoo/zoo_parity.c.

usage: zoo_deepgaitv2_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_common import (BasicBlock2D, BasicBlock3D, BasicBlockP3D, Manifest, SeparateBNNecks, SeparateFCs,  # noqa: E402
                        SetBlockWrapper, bnneck_emb2, conv3x3, count_macs, count_params, count_total, cut,
                        heatmaps, hpp, make_layer, randomise_bn, silhouettes_u8, to_float)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


class DeepGaitV2(nn.Module):
    def __init__(self, mode="p3d", in_channels=1, layers=(1, 1, 1, 1), channels=(64, 128, 256, 512), class_num=74,
                 use_emb2=False):
        super().__init__()
        block = {"2d": BasicBlock2D, "p3d": BasicBlockP3D, "3d": BasicBlock3D}[mode]
        c = channels
        self.layer0 = SetBlockWrapper(nn.Sequential(conv3x3(in_channels, c[0]), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)))
        self.layer1 = SetBlockWrapper(make_layer(BasicBlock2D, c[0], c[0], 1, layers[0], "2d"))
        strides = [2, 2, 1]
        for i in range(3):
            stage = make_layer(block, c[i], c[i + 1], strides[i], layers[i + 1], mode)
            setattr(self, f"layer{i + 2}", SetBlockWrapper(stage) if mode == "2d" else stage)
        self.FCs = SeparateFCs(16, c[3], c[2])
        self.BNNecks = SeparateBNNecks(16, c[2], class_num)
        self.use_emb2 = use_emb2

    def forward(self, x):  # [n, c, s, h, w]
        for i in range(5):
            x = getattr(self, f"layer{i}")(x)
        x = x.max(2)[0]
        emb = self.FCs(hpp(x, [16]))
        return bnneck_emb2(self.BNNecks, emb) if self.use_emb2 else emb


SMALL = (8, 16, 32, 64)
TINY = (4, 8, 16, 32)   # the deeper and 3-D variants, whose long cases cost most on the reference kernels


def frames(gen, t, in_channels):
    """One sequence as stored (uint8) and as the network sees it ([1, C, T, 64, 44] float)."""
    if in_channels == 1:
        raw = silhouettes_u8(gen, t)                    # [T, 64, 64]
        net = to_float(cut(raw, 44)).unsqueeze(0).unsqueeze(0)
    else:
        raw = heatmaps(gen, t)                          # [T, 2, 64, 64]
        net = to_float(cut(raw, 44)).permute(1, 0, 2, 3).unsqueeze(0)
    return raw, net


def add_model(man, gen, name, cases, levels, emb2_config=None, model_type=None, **kw):
    model = DeepGaitV2(**kw)
    randomise_bn(model, 11)
    model.eval()
    man.model(name, model, config=emb2_config, model_type=model_type)
    in_ch = kw.get("in_channels", 1)
    per_frame, per_seq = count_macs(model, lambda t: (torch.rand(1, in_ch, t, 64, 44),), 2, 3)
    mode = kw.get("mode", "p3d")
    man.info(name, type="SkeletonGait" if in_ch == 2 and model_type is None else "DeepGaitV2",
             params=count_params(model, ("BNNecks.fc_bin",) if kw.get("use_emb2") else ("BNNecks",)),
             total=count_total(model), macs=f"{per_frame:.0f}", seq_macs=f"{per_seq:.0f}",
             embed=f"{model.FCs.fc_bin.shape[2]}x16", temporal=int(mode != "2d"), inputs=1)
    for case, lengths in cases.items():
        seqs, outs = [], []
        for t in lengths:
            raw, net = frames(gen, t, in_ch)
            with torch.no_grad():
                outs.append(model(net))
            # raw (stored width, uint8) for odd cases, already cut floats for the others
            if len(seqs) % 2 == 0:
                seqs.append([(raw, True)])
            else:
                seqs.append([(to_float(cut(raw, 44)), False)])
        man.case(name, case, levels[case] if isinstance(levels, dict) else levels, seqs, torch.cat(outs, 0))


def main():
    outdir = sys.argv[1]
    man = Manifest(outdir)
    gen = torch.Generator().manual_seed(3)
    long_cases = {"t1": [1], "t30": [30], "t100": [100], "batch2": [20, 20]}
    seed = 100
    # reduced widths: every case, both levels
    for mode in ("p3d", "3d", "2d"):
        for layers in ((1, 1, 1, 1), (1, 4, 4, 1)):
            seed += 1
            torch.manual_seed(seed)
            cases = dict(long_cases)
            if mode == "2d":
                cases["batch2"] = [12, 20]   # frame-independent: sequences of different lengths share a batch
            width = SMALL if mode != "3d" and layers == (1, 1, 1, 1) else TINY
            add_model(man, gen, f"dgv2_{mode}_{''.join(map(str, layers))}_small", cases, "cb", mode=mode, layers=layers,
                      channels=width)
    # block counts no config ships, read from the keys
    torch.manual_seed(120)
    add_model(man, gen, "dgv2_p3d_2131_small", {"t1": [1], "t7": [7]}, "cb", mode="p3d", layers=(2, 1, 3, 1), channels=SMALL)
    torch.manual_seed(121)
    add_model(man, gen, "dgv2_2d_1231_small", {"t5": [5]}, "cb", mode="2d", layers=(1, 2, 3, 1), channels=SMALL)
    # SkeletonGait: 2-channel heat maps, plain and with use_emb2 (its CCPG config)
    torch.manual_seed(130)
    add_model(man, gen, "skeletongait_1111_small", long_cases, "cb", mode="p3d", in_channels=2, channels=SMALL)
    torch.manual_seed(131)
    emb2 = "model_cfg:\n  model: DeepGaitV2\n  Backbone:\n    in_channels: 2\n    mode: p3d\n  use_emb2: true\n"
    add_model(man, gen, "skeletongait_emb2_small", {"t1": [1], "t30": [30], "batch2": [9, 9]}, "cb", emb2_config=emb2,
              mode="p3d", in_channels=2, channels=SMALL, use_emb2=True)
    # full size, few frames
    torch.manual_seed(140)
    add_model(man, gen, "dgv2_p3d_1441_full", {"t1": [1], "t3": [3]}, {"t1": "cbf", "t3": "b-"}, mode="p3d",
              layers=(1, 4, 4, 1))
    # (the other full-size variants' counts are checked on random weights by the C test)
    torch.manual_seed(141)
    add_model(man, gen, "dgv2_3d_1111_full", {"t2": [2]}, "cb-", mode="3d", layers=(1, 1, 1, 1))
    # a checkpoint that does not fit: a missing key, a misshapen one, an unexpected one
    torch.manual_seed(150)
    sd = DeepGaitV2(mode="p3d", channels=SMALL).state_dict()
    del sd["layer3.0.shortcut3d.weight"]
    sd["layer2.0.sbn.running_var"] = torch.ones(7)
    sd["Extra.weight"] = torch.ones(3)
    torch.save({"model": sd}, os.path.join(outdir, "dgv2_broken.pt"))
    man.write()
    print(f"DeepGaitV2 / SkeletonGait reference written to {outdir}")


if __name__ == "__main__":
    main()

"""PyTorch reference for GaitBase, written from the specification (gaitbase.md) with
OpenGait's module and key names: Baseline = SetBlockWrapper(ResNet9) -> temporal max ->
HPP -> SeparateFCs (+ SeparateBNNecks, a training head). Random weights, randomised BN
statistics. Writes OpenGait-style checkpoints, inputs and expected embeddings.

usage: gaitbase_ref.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import randomise_bn, require_torch, save_npy, save_opengait_checkpoint  # noqa: E402

require_torch()
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, s, p):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, bias=False)

    def forward(self, x):
        return self.conv(x)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv-bn-relu-conv-bn + shortcut, relu."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet9(nn.Module):
    def __init__(self, channels, layers, strides, in_channel=1):
        super().__init__()
        self.conv1 = BasicConv2d(in_channel, channels[0], 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = channels[0]
        for i, (c, n, s) in enumerate(zip(channels, layers, strides)):
            blocks = [BasicBlock(inplanes, c, s)] + [BasicBlock(c, c, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = c
        self.n_layers = len(channels)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(self.n_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        return x


class SetBlockWrapper(nn.Module):
    """Folds frames into the batch: [n, c, s, h, w] -> [n*s, c, h, w] -> back."""

    def __init__(self, forward_block):
        super().__init__()
        self.forward_block = forward_block

    def forward(self, x):
        n, c, s, h, w = x.shape
        x = self.forward_block(x.transpose(1, 2).reshape(-1, c, h, w))
        return x.reshape(n, s, *x.shape[1:]).transpose(1, 2).contiguous()


class SeparateFCs(nn.Module):
    def __init__(self, parts_num, in_channels, out_channels):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, out_channels)))

    def forward(self, x):  # [n, c, p]
        return x.permute(2, 0, 1).matmul(self.fc_bin).permute(1, 2, 0).contiguous()


class SeparateBNNecks(nn.Module):
    def __init__(self, parts_num, in_channels, class_num):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, class_num)))
        self.bn1d = nn.BatchNorm1d(in_channels * parts_num)


def hpp(x, bins):
    n, c = x.shape[:2]
    return torch.cat([(lambda z: z.mean(-1) + z.max(-1)[0])(x.view(n, c, b, -1)) for b in bins], -1)


class Baseline(nn.Module):
    def __init__(self, channels=(64, 128, 256, 512), layers=(1, 1, 1, 1), strides=(1, 2, 2, 1), parts=16, out_ch=256,
                 class_num=74, bins=(16,)):
        super().__init__()
        self.Backbone = SetBlockWrapper(ResNet9(channels, layers, strides))
        self.FCs = SeparateFCs(parts, channels[-1], out_ch)
        self.BNNecks = SeparateBNNecks(parts, out_ch, class_num)
        self.bins = bins

    def forward(self, sils, seqL=None):
        x = sils.unsqueeze(1)  # [n, 1, s, h, w]
        x = self.Backbone(x)
        if seqL is None:
            x = x.max(2)[0]
        else:  # frames of several sequences concatenated along s, as OpenGait's PackSequenceWrapper
            starts = [0] + list(torch.cumsum(torch.tensor(seqL), 0)[:-1].tolist())
            x = torch.cat([x[:, :, s0:s0 + l].max(2)[0] for s0, l in zip(starts, seqL)], 0)
        return self.FCs(hpp(x, self.bins))


def silhouettes(gen, n, t, h=64, w=44):
    """Silhouette-like inputs: a blob that moves, with soft edges (as cubic resizing leaves)."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.zeros(n, t, h, w)
    for i in range(n):
        cx, cy = w / 2 + torch.randn(1, generator=gen).item() * 2, h / 2
        for f in range(t):
            dx = (xx - cx - 3 * torch.sin(torch.tensor(f * 0.4 + i))) / (w * 0.22)
            dy = (yy - cy) / (h * 0.45)
            r = dx * dx + dy * dy
            out[i, f] = torch.clamp((1.2 - r) * 3, 0, 1)
    noise = torch.rand(n, t, h, w, generator=gen) < 0.02
    out[noise] = 1 - out[noise]
    return (out * 255).round() / 255


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    variants = {"full": dict(), "small": dict(channels=(8, 16, 32, 64), out_ch=32)}
    for name, kw in variants.items():
        torch.manual_seed(7 if name == "full" else 8)
        model = Baseline(**kw)
        randomise_bn(model, 11)
        model.eval()
        save_opengait_checkpoint(model, os.path.join(outdir, f"gaitbase_{name}.pt"))
        cases = {f"t{t}": [t] for t in (1, 7, 30, 100)}
        cases["batch2"] = [12, 20]
        for case, lengths in cases.items():
            seqs = [silhouettes(gen, 1, t)[0] for t in lengths]
            with torch.no_grad():
                emb = torch.cat([model(s.unsqueeze(0)) for s in seqs], 0)
                if len(lengths) > 1:  # the packed form gives the same result
                    packed = model(torch.cat(seqs, 0).unsqueeze(0), seqL=lengths)
                    assert torch.allclose(packed, emb, rtol=1e-5, atol=1e-5)
            if len(set(lengths)) == 1:
                save_npy(os.path.join(outdir, f"gaitbase_{name}_{case}_in.npy"), torch.stack(seqs).numpy())
            else:
                for j, s in enumerate(seqs):
                    save_npy(os.path.join(outdir, f"gaitbase_{name}_{case}_in{j}.npy"), s.unsqueeze(0).numpy())
            save_npy(os.path.join(outdir, f"gaitbase_{name}_{case}_out.npy"), emb.numpy())
    # broken checkpoints for the loader's error messages
    sd = Baseline(channels=(8, 16, 32, 64), out_ch=32).state_dict()
    broken = dict(sd)
    del broken["Backbone.forward_block.layer2.0.conv2.weight"]
    broken["Backbone.forward_block.layer3.0.bn1.running_var"] = torch.ones(7)
    broken["Extra.weight"] = torch.ones(3)
    torch.save({"model": broken}, os.path.join(outdir, "gaitbase_broken.pt"))
    # the small model's weights plus a key the architecture does not read (strict = 0 loads it)
    extra = dict(torch.load(os.path.join(outdir, "gaitbase_small.pt"))["model"])
    extra["Extra.weight"] = torch.ones(3)
    torch.save({"model": extra}, os.path.join(outdir, "gaitbase_extra.pt"))
    print(f"gaitbase reference written to {outdir}")


if __name__ == "__main__":
    main()

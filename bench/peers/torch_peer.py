"""One peer of `gaitrt bench --peers`: runs the same model, weights and input under PyTorch
(eager or torch.compile) or ONNX Runtime (the model exported to ONNX), times it like gaitrt
(median of N runs after warm-up, in one process) and prints one JSON line.

The network definitions are our PyTorch references (tests/reference/), which carry
OpenGait's module and key names, so the same state dict loads unchanged. Models with two inputs
(SkeletonGait++, XGait) take one .npy per input, comma-separated, in gaitrt's input order.

usage: torch_peer.py --model GaitBase --weights W.safetensors|.pt --input X.npy[,Y.npy] --mode eager|compile|onnx
                     [--runs N] [--warmup W] [--threads N] [--expect E.npy] [--device cpu|cuda] [--amp fp16|bf16]

On CUDA a run is what gaitrt's run is: the input from host memory to the GPU, the forward pass,
the embeddings back to host memory (median_ms); device_median_ms is the forward pass alone on an
input already on the GPU, timed with CUDA events. cuDNN's autotuner is on (PyTorch's fastest
eager setting); PyTorch's defaults otherwise (its float32 convolutions may use TF32).
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))


def out(d):
    print(json.dumps(d))
    sys.exit(0)


def load_weights(path, torch, np):
    if path.endswith(".safetensors"):  # parsed by hand: Debian's torch has no safetensors package
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        base = 8 + n
        dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "F64": np.float64}
        sd = {}
        for k, v in header.items():
            if k == "__metadata__":
                continue
            a, b = v["data_offsets"]
            arr = np.frombuffer(raw[base + a:base + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
            sd[k] = torch.from_numpy(arr.copy())
        return sd
    ck = torch.load(path, map_location="cpu")
    return ck.get("model", ck.get("state_dict", ck)) if isinstance(ck, dict) else ck


def build(model, sd):
    import torch
    """Our reference module for the family, with widths read from the state dict."""
    name = model.split(":")[0]
    if name == "GaitBase":
        from gaitbase_ref import Baseline
        chans = [sd[f"Backbone.forward_block.layer{i}.0.conv1.weight"].shape[0] for i in range(1, 5)]
        fc = sd["FCs.fc_bin"]
        m = Baseline(channels=tuple(chans), parts=fc.shape[0], out_ch=fc.shape[2])
        return checked(m, {k: v for k, v in sd.items() if not k.startswith("BNNecks.")}, unused=("BNNecks.",))
    if name == "DeepGaitV2":
        from zoo_deepgaitv2_ref import DeepGaitV2
        if any(k.startswith("layer2.forward_block.") for k in sd):
            mode = "2d"
        elif "layer2.0.shortcut3d.weight" in sd:
            mode = "p3d"
        else:
            mode = "3d"

        def blocks(stage):
            pre = f"layer{stage}.forward_block." if stage == 1 or mode == "2d" else f"layer{stage}."
            return len({k[len(pre):].split(".")[0] for k in sd if k.startswith(pre)})
        chans = (sd["layer0.forward_block.0.weight"].shape[0],) + tuple(
            sd[(f"layer{i}.forward_block.0.conv1.weight" if mode == "2d" else
                (f"layer{i}.0.conv1.forward_block.0.weight" if mode == "p3d" else f"layer{i}.0.conv1.weight"))].shape[0]
            for i in (2, 3, 4))
        m = DeepGaitV2(mode=mode, in_channels=sd["layer0.forward_block.0.weight"].shape[1],
                       layers=tuple(blocks(i) for i in range(1, 5)), channels=chans)
        return Unsqueezed(checked(m, {k: v for k, v in sd.items() if not k.startswith("BNNecks.")}, unused=("BNNecks.",)))  # as OpenGait's forward does
    if name == "GaitGL":
        from zoo_gaitgl_ref import GaitGL
        oumvlp = "conv3d.2.conv3d.weight" in sd
        glw = (lambda b: f"{b}.0.global_conv3d.conv3d.weight") if oumvlp else (lambda b: f"{b}.global_conv3d.conv3d.weight")
        chans = (sd["conv3d.0.conv3d.weight"].shape[0],) + tuple(
            sd[glw(b)].shape[0] for b in (("GLConvA0", "GLConvA1", "GLConvB2") if oumvlp else ("GLConvA0", "GLConvA1")))
        bnneck = "Bn.weight" not in sd  # the embedding is Bn's output, or Head0's with a BNNeck head
        head = sd.get("BNNecks.fc_bin" if bnneck else "Head1.fc_bin")  # (classifiers: not part of the embedding)
        return checked(GaitGL(channels=chans, oumvlp=oumvlp, class_num=head.shape[2] if head is not None else 1,
                              bnneck=bnneck), sd, unused=("Head1.", "BNNecks."))
    if name == "GaitSet":
        from zoo_gaitset_ref import GaitSet
        chans = (sd["set_block1.forward_block.0.conv.weight"].shape[1],) + tuple(
            sd[f"set_block{i}.forward_block.0.conv.weight"].shape[0] for i in (1, 2, 3))
        return Unsqueezed(checked(GaitSet(in_channels=chans, out_channels=sd["Head.fc_bin"].shape[2]), sd))
    if name == "GaitPart":
        from zoo_gaitpart_ref import CASIAB, OUMVLP, GaitPart
        convs = [k for k in sd if k.startswith("Backbone.forward_block.feature.") and k.endswith(".conv.weight")]
        cfg = OUMVLP if len(convs) == sum(not c.startswith("M") for c in OUMVLP) else CASIAB
        scale = 32 // sd["Backbone.forward_block.feature.0.conv.weight"].shape[0]
        return Unsqueezed(checked(GaitPart(layers_cfg=cfg, out_channels=sd["Head.fc_bin"].shape[2], scale=scale), sd))
    if name == "SkeletonGaitPP":  # inputs: heatmaps [B, T, 2, H, W], silhouettes [B, T, H, W]
        from zoo_skeletongaitpp_ref import SkeletonGaitPP

        def count(pre):
            return len({k[len(pre):].split(".")[0] for k in sd if k.startswith(pre)})
        c0 = sd["sil_layer0.forward_block.0.weight"].shape[0]
        chans = (c0,) + tuple(sd[f"layer{i}.0.conv1.forward_block.0.weight"].shape[0] for i in (2, 3, 4))
        blocks = (count("sil_layer1.forward_block."),) + tuple(count(f"layer{i}.") for i in (2, 3, 4))
        ratio = c0 // sd["fusion.conv.forward_block.0.weight"].shape[0]
        head = sd.get("BNNecks.fc_bin")
        m = checked(SkeletonGaitPP(blocks=blocks, channels=chans, class_num=head.shape[2] if head is not None else 1,
                                   squeeze_ratio=ratio), sd, unused=("BNNecks.",))

        class Stacked(torch.nn.Module):  # -> [B, 3, T, H, W]: bone, joint, silhouette
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, maps, sils):
                return self.inner(torch.cat([maps.transpose(1, 2), sils.unsqueeze(1)], 1))
        return Stacked(m)
    if name == "XGait":  # inputs: parsing [B, T, H, W], silhouettes [B, T, H, W], as its forward takes them
        from zoo_xgait_ref import XGait
        pre = "Backbone_sil.forward_block."
        chans = tuple(sd[f"{pre}layer{i}.0.conv1.weight"].shape[0] for i in (1, 2, 3, 4))
        fc = sd["FCs_sil.fc_bin"]
        head = sd.get("BNNecks_sil.fc_bin")
        return checked(XGait(channels=chans, out_channels=fc.shape[2], class_num=head.shape[2] if head is not None else 1,
                             reduction=chans[-1] // sd["gcm.fc.0.weight"].shape[0]), sd, unused=("BNNecks_",))
    raise SystemExit(f"no PyTorch reference for model {model} (peers: GaitBase, DeepGaitV2, GaitGL, GaitSet, GaitPart, "
                     "SkeletonGaitPP, XGait)")


def input_names(n):
    """The ONNX model's input names: gaitrt's input order."""
    return ["sils"] if n == 1 else [f"input{k}" for k in range(n)]


def checked(m, sd, unused=()):
    """m with sd loaded: every parameter and buffer of m must come from sd (shapes included), but
    those under the prefixes `unused` (classifiers the embedding does not go through)."""
    missing, _ = m.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked") and not k.startswith(tuple(unused))]
    if missing:
        raise SystemExit(f"the checkpoint does not fit our reference module: missing {missing[:5]}")
    return m


def unsqueezed_module():
    import torch

    class Unsqueezed(torch.nn.Module):  # [B, T, H, W] -> [B, 1, T, H, W]
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.unsqueeze(1))
    return Unsqueezed


def Unsqueezed(inner):
    return unsqueezed_module()(inner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--mode", choices=["eager", "compile", "onnx"], default="eager")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--expect", default="")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--amp", choices=["", "fp16", "bf16"], default="", help="autocast to this type")
    ap.add_argument("--export-only", default="", help="write the ONNX model here and exit")
    a = ap.parse_args()
    if a.mode == "onnx" and not a.export_only:
        return run_onnx(a)
    label = {"eager": "PyTorch", "compile": "PyTorch torch.compile", "onnx": "ONNX Runtime"}[a.mode]
    if a.device == "cuda":
        label += " CUDA " + (f"AMP {a.amp}" if a.amp else "fp32")
    try:
        import numpy as np
        import torch
    except ImportError as e:
        out({"peer": label, "python": sys.executable, "missing": f"torch/numpy not importable: {e}"})
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.device == "cuda" and not torch.cuda.is_available():
        out({"peer": label, "python": sys.executable, "missing": f"torch {torch.__version__} sees no CUDA device"})
    sd = load_weights(a.weights, torch, np)
    model = build(a.model, sd).eval()
    xs = [torch.from_numpy(np.load(p)) for p in a.input.split(",")]  # [B, T, H, W] or [B, T, C, H, W] each
    version = torch.__version__
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True
        model = model.cuda()
        version += f" CUDA {torch.version.cuda} cuDNN {torch.backends.cudnn.version()} {torch.cuda.get_device_name()}"
    if a.mode == "compile":
        if not hasattr(torch, "compile"):
            out({"peer": label, "python": sys.executable, "missing": f"torch {version} has no torch.compile"})
        model = torch.compile(model)
    if a.export_only:
        with torch.no_grad():
            torch.onnx.export(model, tuple(xs), a.export_only, input_names=input_names(len(xs)), output_names=["embeddings"],
                              opset_version=17)
        out({"exported": a.export_only, "torch": version})

    if a.device == "cuda":
        import contextlib
        amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(a.amp)
        ctx = (lambda: torch.autocast("cuda", dtype=amp)) if amp else contextlib.nullcontext

        def fwd(xg):
            with torch.no_grad(), ctx():
                return model(*xg)

        def run():
            return fwd([x.cuda() for x in xs]).float().cpu().numpy()

        xg = [x.cuda() for x in xs]
        for _ in range(max(a.warmup, 1)):
            fwd(xg)
        dev = []
        for _ in range(a.runs):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            fwd(xg)
            e1.record()
            e1.synchronize()
            dev.append(e0.elapsed_time(e1))
        dev.sort()
        extra = {"device_median_ms": dev[len(dev) // 2], "gpu_peak_mib": torch.cuda.max_memory_allocated() / 1048576.0}
        timed(a, label, version, run, torch.get_num_threads(), extra)
        return

    if a.amp:
        # the CPU's autocast (bf16: oneDNN's AVX-512 bf16 / AMX kernels, fp32 accumulation);
        # channels-last, the layout those kernels take
        amp = {"fp16": torch.float16, "bf16": torch.bfloat16}[a.amp]
        for m in model.modules():  # per layer: a model may mix 2-D and 3-D convolutions (P3D)
            if isinstance(m, torch.nn.Conv3d):
                m.to(memory_format=torch.channels_last_3d)
            elif isinstance(m, torch.nn.Conv2d):
                m.to(memory_format=torch.channels_last)
        label += f" AMP {a.amp}"

        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=amp):
                return model(*xs).float().numpy()
    else:
        def run():
            with torch.no_grad():
                return model(*xs).numpy()
    timed(a, label, version, run, torch.get_num_threads())


def timed(a, label, version, run, threads, extra=None):
    import numpy as np
    result = None
    for _ in range(a.warmup):
        result = run()
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2] if len(times) % 2 else 0.5 * (times[len(times) // 2 - 1] + times[len(times) // 2])
    d = {"peer": label, "version": version, "python": sys.executable, "threads": threads,
         "median_ms": med * 1e3, "min_ms": times[0] * 1e3, "max_ms": times[-1] * 1e3,
         "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    d.update(extra or {})
    if a.expect:
        e = np.load(a.expect)
        d["rel_l2_vs_gaitrt"] = float(np.linalg.norm(result - e) / max(np.linalg.norm(e), 1e-30))
    out(d)


def run_onnx(a):
    """The model exported to ONNX in a child process (so that this one never imports torch and
    its peak RSS is ONNX Runtime's own), then timed under ONNX Runtime."""
    import subprocess
    label = "ONNX Runtime"
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        out({"peer": label, "python": sys.executable, "missing": f"onnxruntime/numpy not importable: {e}"})
    inputs = a.input.split(",")
    path = os.path.join(os.path.dirname(os.path.abspath(inputs[0])), "peer_model.onnx")
    cmd = [sys.executable, os.path.abspath(__file__), "--model", a.model, "--weights", a.weights, "--input", a.input,
           "--mode", "eager", "--export-only", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode or not os.path.exists(path):
        out({"peer": label, "python": sys.executable, "missing": f"ONNX export failed: {p.stderr.strip()[-300:]}"})
    so = ort.SessionOptions()
    if a.threads > 0:
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {n: np.load(p) for n, p in zip(input_names(len(inputs)), inputs)}
    timed(a, label, f"onnxruntime {ort.__version__}", lambda: sess.run(None, feed)[0], a.threads)


if __name__ == "__main__":
    main()

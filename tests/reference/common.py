"""Shared helpers for the PyTorch reference scripts: exit code 77 (skip) when torch is
missing, deterministic seeds, randomised BatchNorm statistics, OpenGait-style saving."""
import os
import sys

SKIP = 77


def require_torch():
    try:
        import torch  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the machine
        print(f"SKIPPED: PyTorch reference needs torch and numpy ({e}); install python3-torch", file=sys.stderr)
        sys.exit(SKIP)


def randomise_bn(model, seed):
    """Random running statistics and affine parameters, so that BN folding is really tested."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.2 * (torch.rand(c, generator=g) - 0.5))
                m.running_mean.copy_(0.2 * (torch.rand(c, generator=g) - 0.5))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(1234)


def save_opengait_checkpoint(model, path, iteration=60000):
    """As OpenGait's save_ckpt writes it: model, optimizer (with momentum buffers after a
    step), scheduler (MultiStepLR, whose milestones are a Counter) and the iteration."""
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[20000, 40000, 50000], gamma=0.1)
    # one step on a zero gradient creates the momentum buffers without changing the weights
    for p in params:
        p.grad = torch.zeros_like(p)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    opt.step()
    model.load_state_dict(saved)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "iteration": iteration}, path)


def save_npy(path, array):
    import numpy as np
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))

"""Cross-check against OpenGait itself (optional, not part of CI): builds GaitBase with the
network code of an OpenGait checkout given by the user (its Baseline.build_network and its
gaitbase_da_casiab.yaml), random weights and BN statistics, saves a checkpoint as OpenGait's
save_ckpt does, and the embeddings its forward returns. Then compare:

    python3 tests/reference/opengait_crosscheck.py OPENGAIT_CHECKOUT OUTDIR [MODEL_FILE CLASS CONFIG]
        (default: baseline Baseline gaitbase/gaitbase_da_casiab.yaml; SkeletonGait++ also writes x2.npy,
         the silhouettes: give both as --tensor x.npy --tensor x2.npy; e.g. deepgaitv2 DeepGaitV2
         deepgaitv2/DeepGaitV2_gait3d.yaml, gaitset GaitSet gaitset/gaitset.yaml)
    build/gaitrt embed -m OUTDIR/CLASS-60000.pt --tensor OUTDIR/x.npy -o OUTDIR/gaitrt.npy
    python3 -c "import numpy as n; a=n.load('OUTDIR/gaitrt.npy'); b=n.load('OUTDIR/emb.npy'); print(n.linalg.norm(a-b)/n.linalg.norm(b))"

OpenGait imports many optional packages at package level (kornia, lightly, tensorboard...);
they are replaced by inert stand-ins here because the Baseline network does not use them.
Needs torch, torchvision, einops and PyYAML.
"""
import sys, types, os
sys.modules['torch.utils.tensorboard'] = types.ModuleType('tb'); sys.modules['torch.utils.tensorboard'].SummaryWriter = object
OG = os.path.abspath(sys.argv[1])
sys.path[:0] = [os.path.join(OG, 'opengait')]
import importlib.abc, importlib.machinery
class _Any(types.ModuleType):
    def __getattr__(self, k):
        if k.startswith('__'): raise AttributeError(k)
        return _Any(k)
    def __call__(self, *a, **k): return _Any('x')
    def __mro_entries__(self, bases): return (object,)
class _Stub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    names = ('imageio', 'kornia', 'timm', 'transformers', 'diffusers', 'open_clip', 'clip', 'cv2', 'sklearn', 'matplotlib', 'scipy', 'functorch', 'xformers', 'segment_anything', 'pytorch3d', 'smplx', 'huggingface_hub', 'lpips', 'dinov2', 'einops_exts', 'torchaudio')
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in self.names: return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec): m = _Any(spec.name); m.__path__ = []; return m
    def exec_module(self, m): pass
sys.meta_path.insert(0, _Stub())
import torch, numpy as np, yaml
import torch.nn as nn
import importlib.util
pkg = types.ModuleType('modeling.models'); pkg.__path__ = [os.path.join(OG, 'opengait/modeling/models')]; sys.modules['modeling.models'] = pkg
MODFILE, CLASS, CFG = (sys.argv[3:6] + [None, None, None])[:3] if len(sys.argv) > 3 else ('baseline', 'Baseline', 'gaitbase/gaitbase_da_casiab.yaml')
spec = importlib.util.spec_from_file_location('modeling.models.' + MODFILE.replace('+', 'p'), os.path.join(OG, f'opengait/modeling/models/{MODFILE}.py'))
bl = importlib.util.module_from_spec(spec); sys.modules[spec.name] = bl; spec.loader.exec_module(bl)
Baseline = getattr(bl, CLASS)
from modeling import backbones
full_cfg = yaml.safe_load(open(os.path.join(OG, 'configs', CFG)))
cfg = full_cfg['model_cfg']
torch.manual_seed(3)
m = Baseline.__new__(Baseline)
nn.Module.__init__(m)
m.cfgs = full_cfg  # some networks (GaitGL) read the dataset name from it
m.build_network(cfg)
g = torch.Generator().manual_seed(5)
for mod in m.modules():
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        c = mod.num_features
        with torch.no_grad():
            mod.weight.copy_(0.5 + torch.rand(c, generator=g)); mod.bias.copy_(0.2 * (torch.rand(c, generator=g) - .5))
            mod.running_mean.copy_(0.2 * (torch.rand(c, generator=g) - .5)); mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
m.eval()
out = sys.argv[2]; os.makedirs(out, exist_ok=True)
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[20000, 40000])
torch.save({'model': m.state_dict(), 'optimizer': opt.state_dict(), 'scheduler': sched.state_dict(), 'iteration': 60000},
           os.path.join(out, f'{CLASS}-60000.pt'))
in_ch = (cfg.get('Backbone') or {}).get('in_channels', 1)
shape = (2, 30, 64, 44) if in_ch == 1 else (2, 30, in_ch, 64, 44)   # SkeletonGait: maps; ++: maps + silhouette
x = (torch.rand(*shape, generator=g) > 0.5).float()
xgait = CLASS == 'XGait'  # parsing labels 0..11 (divided by 1) and silhouettes, two inputs
if xgait:
    pars = torch.randint(0, 12, (2, 30, 64, 44), generator=g).float() * (x > 0)
with torch.no_grad():
    embs = []
    for i in range(2):
        ipts = [pars[i:i+1], x[i:i+1]] if xgait else [x[i:i+1]]
        r = m.forward((ipts, [0], None, None, None))  # one label: one sequence per call, as at test time
        embs.append(r['inference_feat']['embeddings'])
    e = torch.cat(embs).numpy()
if xgait:
    np.save(os.path.join(out, 'x.npy'), pars.numpy()); np.save(os.path.join(out, 'x2.npy'), x.numpy())
elif in_ch == 3:  # gaitrt takes OpenGait's two pickles as two inputs: heat maps, then silhouettes
    np.save(os.path.join(out, 'x.npy'), x[:, :, :2].numpy()); np.save(os.path.join(out, 'x2.npy'), x[:, :, 2].numpy())
else:
    np.save(os.path.join(out, 'x.npy'), x.numpy())
np.save(os.path.join(out, 'emb.npy'), e)
print('saved', e.shape, len(m.state_dict()), 'keys')

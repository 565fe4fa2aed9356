"""Make ``tests/data/mlla_fixture.pth``: MLLA's own numbers for the converter's parity test.

Runs MLLA's published model code (github.com/LeapLabTHU/MLLA; never copied into this
repository) at a reduced width and depth with random weights, and saves only numbers: the
classifier's state dict in MLLA's layout, the extra tensors of its downstream (mmdet / mmseg)
backbone, fixed inputs and MLLA's outputs on them (two sizes that are multiples of 32, and
one that MLLA pads). Run once, from a clone of MLLA::

    git clone https://github.com/LeapLabTHU/MLLA /tmp/MLLA   # commit 66b6d29 was used
    python tests/data/make_mlla_fixture.py /tmp/MLLA tests/data/mlla_fixture.pth

MLLA's model files import timm (three helpers) and, downstream, mmdet 2.x / mmcv 1.x names
(a registry, a logger, a checkpoint loader) that the forward pass never uses; this script
puts small stand-ins for them into ``sys.modules`` before it executes MLLA's files, so it
needs only torch. The weights are seeded and perturbed away from MLLA's init (BatchNorm
statistics, LayerNorm affines, zero biases, the downsample conv biases that the converter
folds), so every parameter changes the outputs. They are rounded to fp16-representable
values, so the file stores them in fp16 exactly (half the bytes; cast to fp32 to use).
"""
import argparse
import subprocess
import sys
import types
from pathlib import Path

import torch
from torch import nn

# The reduced model: every stage, downsample and the stem; several heads in stages 3 and 4.
EMBED_DIM = 8
DEPTHS = (1, 1, 2, 1)
NUM_HEADS = (1, 1, 2, 2)
NUM_CLASSES = 10
CLS_SIZE = 64  # MLLA's classifier takes square inputs of exactly img_size
DENSE_SIZES = ((64, 96), (96, 64))  # multiples of 32, non-square (rows != cols)
PADDED_SIZE = (57, 83)  # neither a multiple of 4 nor 32: MLLA pads the image and odd maps
SEED = 16


def _install_stand_ins() -> None:
    """Stand-ins for the few timm / mmdet-2.x / mmcv-1.x names MLLA's files import."""
    def to_2tuple(x):
        return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

    class DropPath(nn.Module):  # only built for drop_path > 0; the fixture uses 0
        def __init__(self, p=0.):
            super().__init__()
            if p:
                raise ValueError('the fixture runs without drop path')

        def forward(self, x):
            return x

    layers = types.ModuleType('timm.models.layers')
    layers.DropPath, layers.to_2tuple = DropPath, to_2tuple
    layers.trunc_normal_ = nn.init.trunc_normal_
    registry = types.SimpleNamespace(register_module=lambda *a, **k: (lambda cls: cls))
    modules = {
        'timm': types.ModuleType('timm'), 'timm.models': types.ModuleType('timm.models'),
        'timm.models.layers': layers,
        'mlla_downstream': types.ModuleType('mlla_downstream'),
        'mlla_downstream.models': types.ModuleType('mlla_downstream.models'),
        'mlla_downstream.models.backbones':
            types.ModuleType('mlla_downstream.models.backbones'),
        'mlla_downstream.models.builder': types.ModuleType('mlla_downstream.models.builder'),
        'mlla_downstream.utils': types.ModuleType('mlla_downstream.utils'),
        'mmcv': types.ModuleType('mmcv'), 'mmcv.runner': types.ModuleType('mmcv.runner'),
    }
    for name in ('mlla_downstream', 'mlla_downstream.models',
                 'mlla_downstream.models.backbones'):
        modules[name].__path__ = []
    modules['mlla_downstream.models.builder'].BACKBONES = registry
    modules['mlla_downstream.utils'].get_root_logger = lambda *a, **k: None
    modules['mmcv.runner']._load_checkpoint = None
    sys.modules.update(modules)


def _exec_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__package__ = name.rpartition('.')[0]
    sys.modules[name] = module
    exec(compile(source, f'<MLLA {name}>', 'exec'), module.__dict__)
    return module


def _git_show(repo: Path, path: str) -> str:
    return subprocess.run(['git', '-C', str(repo), 'show', f'HEAD:{path}'], check=True,
                          capture_output=True, text=True).stdout


@torch.no_grad()
def _perturb_(model: nn.Module, generator: torch.Generator) -> None:
    """Seeded weights far from MLLA's init: every tensor matters for the outputs."""
    def randn_like(t, std):
        return torch.randn(t.shape, generator=generator) * std

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            fan_in = module.weight[0].numel()
            module.weight.copy_(randn_like(module.weight, fan_in**-0.5))
            if module.bias is not None:
                module.bias.copy_(randn_like(module.bias, 0.2))
        elif isinstance(module, nn.LayerNorm):
            module.weight.copy_(1 + randn_like(module.weight, 0.2))
            module.bias.copy_(randn_like(module.bias, 0.2))
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.copy_(1 + randn_like(module.weight, 0.2))
            module.bias.copy_(randn_like(module.bias, 0.2))
            module.running_mean.copy_(randn_like(module.running_mean, 0.3))
            module.running_var.copy_(
                0.5 + torch.rand(module.running_var.shape, generator=generator))
            module.num_batches_tracked.fill_(1000)
    for key, tensor in model.state_dict().items():  # exact in fp16: the file stores fp16
        # (not MLLA's RoPE tables: it computes with them in fp32; the converter drops them)
        if tensor.is_floating_point() and not key.endswith('rope.rotations'):
            tensor.copy_(tensor.half().float())


def _half(state: dict) -> dict:
    """The state dict with its float tensors in fp16: exact, since :func:`_perturb_` made
    every value fp16-representable (MLLA computed in fp32 on these same values)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('mlla_repo', type=Path, help='a git clone of LeapLabTHU/MLLA')
    parser.add_argument('out', type=Path)
    args = parser.parse_args()
    commit = subprocess.run(['git', '-C', str(args.mlla_repo), 'rev-parse', 'HEAD'],
                            check=True, capture_output=True, text=True).stdout.strip()
    _install_stand_ins()
    cls_code = _exec_module('mlla_cls', _git_show(args.mlla_repo, 'models/mlla.py'))
    det_code = _exec_module(
        'mlla_downstream.models.backbones.mlla',
        _git_show(args.mlla_repo, 'downstream/detection/mmdet/models/backbones/mlla.py'))

    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    arch = dict(embed_dim=EMBED_DIM, depths=list(DEPTHS), num_heads=list(NUM_HEADS),
                drop_path_rate=0.)
    classifier = cls_code.MLLA(img_size=CLS_SIZE, num_classes=NUM_CLASSES, **arch).eval()
    _perturb_(classifier, generator)
    # MLLA's downstream backbone starts from the classifier (its init_weights loads it
    # non-strictly); its output norms are its own
    dense = det_code.MLLA(img_size=CLS_SIZE, out_indices=(0, 1, 2, 3), **arch).eval()
    _perturb_(dense, generator)
    missing, unexpected = dense.load_state_dict(classifier.state_dict(), strict=False)
    assert sorted(unexpected) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    assert all(k.startswith('norm') for k in missing), missing

    def image(*size):  # fp16-representable values, stored in fp16 (half the bytes)
        return torch.randn(size, generator=generator).half()

    cls_input = image(2, 3, CLS_SIZE, CLS_SIZE)
    dense_inputs = [image(1, 3, *hw) for hw in DENSE_SIZES]
    padded_input = image(1, 3, *PADDED_SIZE)
    with torch.no_grad():
        logits = classifier(cls_input.float())
        dense_outputs = [list(dense(x.float())) for x in dense_inputs]
        padded_outputs = list(dense(padded_input.float()))
    dense_state = _half(dense.state_dict())
    fixture = dict(
        arch=dict(embed_dims=EMBED_DIM, depths=list(DEPTHS), num_heads=list(NUM_HEADS)),
        source=f'github.com/LeapLabTHU/MLLA@{commit}: models/mlla.py (classifier), '
        'downstream/detection/mmdet/models/backbones/mlla.py (dense backbone)',
        classifier_state=_half(classifier.state_dict()),
        classifier_input=cls_input, classifier_logits=logits,
        dense_keys=list(dense_state),
        dense_own_state={k: v for k, v in dense_state.items() if k in missing},
        dense_inputs=dense_inputs, dense_outputs=dense_outputs,
        padded_input=padded_input, padded_outputs=padded_outputs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fixture, args.out)
    print(f'wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()

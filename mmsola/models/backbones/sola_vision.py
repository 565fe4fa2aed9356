"""SoLA-Vision: a hierarchical linear-attention backbone with a few global softmax blocks."""
import copy
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule, initialize
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsola.errors import ArgumentError
from ..foreign_checkpoints import convert_foreign_keys_on_load
from .blocks import SoLAStage, Stem
from .hsb import HSB
from .layer_pattern import parse_layer_pattern
from .pretrained import load_pretrained

NUM_STAGES = 4


@MODELS.register_module()
class SoLAVision(BaseModule):
    """SoLA-Vision backbone (arXiv 2601.11164; reconstructed on the MLLA lineage).

    A convolutional stem (stride 4), then four stages of widths C, 2C, 4C, 8C joined by
    MBConv downsamples. Each block is linear attention ('L'), global softmax attention ('S')
    or an intra-block hybrid ('H'), as ``layer_pattern`` says. Inputs of any size work:
    stage ``i`` of a (B, 3, H, W) input is (B, C_i, ceil(H / 2**(i+2)), ceil(W / 2**(i+2))).

    Args:
        arch (str | dict): a name in ``arch_zoo`` ('tiny', 'small', 'base', or 't', 's', 'b')
            or a dict with ``embed_dims``, ``num_heads``, ``layer_pattern`` (and optionally
            ``depths``, ``drop_path_rate``). Defaults to 'tiny'.
        embed_dims (int, optional): overrides the arch's stage-1 width C.
        depths (Sequence[int], optional): a check only: the pattern lengths define the depths
            and must agree with it.
        num_heads (Sequence[int], optional): overrides the heads per stage; C_i / heads_i
            must be a multiple of 4 (2-D RoPE).
        layer_pattern (Sequence[str] | str, optional): one string of 'L'/'S'/'H' per stage
            (or one string with '/' between stages); overrides the arch's pattern.
        in_channels (int): input channels. Defaults to 3.
        mlp_ratio (float): MLP hidden width / C_i. Defaults to 4.
        drop_path_rate (float, optional): stochastic depth, increasing linearly from 0 to this
            over all blocks; defaults to the arch's ImageNet value (0.1 for a custom dict).
        hsb (bool): add the HSB cross-stage module into stage 3. Defaults to False.
        attn_backend (str): 'auto' | 'triton' | 'torch' for the linear-attention op.
        out_indices (Sequence[int] | int): stages whose (LayerNorm-ed) maps are returned.
            Defaults to (3, ).
        frozen_stages (int): freeze (no grad, eval mode) the stem and stages 0..frozen_stages;
            -1 freezes nothing. Defaults to -1.
        norm_eval (bool): keep the BatchNorm layers in eval mode while training.
        with_cp (bool): activation checkpointing per block. Defaults to False.
        mlla_padding (bool): pad as MLLA's downstream backbones do: the image to a multiple
            of 4 and every odd map before its downsample, with zeros at the bottom / right
            (the default pads inside the stride-2 convs instead). Same output sizes; at
            sizes that are multiples of 32 nothing is padded either way, elsewhere only this
            computes what MLLA computes. Defaults to False.
        init_cfg (dict | list[dict], optional): e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``; the loaded share of keys is logged and a
            checkpoint that matches nothing is an error.

    Example:
        >>> model = SoLAVision('tiny', out_indices=(0, 1, 2, 3))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 223, 337))]
        [(1, 64, 56, 85), (1, 128, 28, 43), (1, 256, 14, 22), (1, 512, 7, 11)]
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': 64,
            'depths': [2, 4, 8, 4],
            'num_heads': [2, 4, 8, 16],
            'layer_pattern': ['LL', 'LLLL', 'LLLSLLLS', 'LLLS'],
            'drop_path_rate': 0.2}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 64,
            'depths': [3, 6, 21, 6],
            'num_heads': [2, 4, 8, 16],
            'layer_pattern': ['LLL', 'LLLLLL', 'LLLLLLS' * 3, 'LLLLLS'],
            'drop_path_rate': 0.3}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 96,
            'depths': [3, 6, 21, 6],
            'num_heads': [3, 6, 12, 24],
            'layer_pattern': ['LLL', 'LLLLLL', 'LLLLLLS' * 3, 'LLLLLS'],
            'drop_path_rate': 0.5}),
    }

    # Bump when parameter names or their meaning change; old checkpoints are then converted
    # (or refused with a clear error) in _load_from_state_dict. A state dict without version
    # metadata (rebuilt by hand, by mmengine's revise_keys or prefix, or from safetensors) is
    # today's layout. 2: MLLA's RoPE layout, the only one (mmsola.ops.rope); no checkpoint of
    # version 1 was ever published, so none is converted.
    _version = 2

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 layer_pattern: Optional[Union[Sequence[str], str]] = None,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 drop_path_rate: Optional[float] = None,
                 hsb: bool = False,
                 attn_backend: str = 'auto',
                 out_indices: Union[Sequence[int], int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 mlla_padding: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        settings = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                     num_heads=num_heads, layer_pattern=layer_pattern,
                                     drop_path_rate=drop_path_rate)
        self.arch_settings = settings
        self.embed_dims = settings['embed_dims']
        self.layer_pattern = settings['layer_pattern']
        self.depths = settings['depths']
        self.num_heads = settings['num_heads']
        self.num_features = [self.embed_dims * 2**i for i in range(NUM_STAGES)]
        self.in_channels = in_channels
        self.out_indices = self._check_out_indices(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        self.stem = Stem(in_channels, self.embed_dims, pad_to=4 if mlla_padding else 1)
        total = sum(self.depths)
        # on the CPU even under `with torch.device('meta')`: the rates become Python floats
        rates = (torch.linspace(0, settings['drop_path_rate'], total, device='cpu').tolist()
                 if total else [])
        self.stages = nn.ModuleList()
        for i, pattern in enumerate(self.layer_pattern):
            start = sum(self.depths[:i])
            self.stages.append(
                SoLAStage(self.num_features[max(i - 1, 0)], self.num_features[i],
                          self.num_heads[i], pattern, rates[start:start + len(pattern)],
                          downsample=i > 0, mlp_ratio=mlp_ratio, attn_backend=attn_backend,
                          with_cp=with_cp))
        self.hsb = HSB(self.num_features[:2], (4, 2), self.num_features[2]) if hsb else None
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self.mlla_padding = mlla_padding
        for stage in self.stages[1:]:
            stage.downsample.pad_odd = mlla_padding

        self.apply(self._init_module)
        self._freeze_stages()

    # ----------------------------------------------------------------- construction helpers
    @classmethod
    def resolve_arch(cls, arch: Union[str, dict] = 'tiny', **overrides) -> Dict:
        """The arch settings after keyword overrides (``None`` means keep), validated.

        Returns a dict with ``embed_dims``, ``depths``, ``num_heads``, ``layer_pattern``
        (list of strings) and ``drop_path_rate``. Raises ArgumentError (a ValueError).
        """
        if isinstance(arch, str):
            if arch.lower() not in cls.arch_zoo:
                raise ArgumentError(f'unknown arch {arch!r}; choose one of '
                                 f'{sorted(set(cls.arch_zoo))} or pass a dict')
            settings = copy.deepcopy(cls.arch_zoo[arch.lower()])
            preset = True
        elif isinstance(arch, dict):
            required = {'embed_dims', 'num_heads', 'layer_pattern'}
            if not required <= set(arch):
                raise ArgumentError(f'a custom arch dict needs the keys {sorted(required)}, '
                                 f'got {sorted(arch)}')
            settings = dict(copy.deepcopy(arch))
            settings.setdefault('drop_path_rate', 0.1)
            preset = False
        else:
            raise ArgumentError(f'arch must be a name or a dict, got {arch!r}')
        unknown = set(overrides) - {'embed_dims', 'depths', 'num_heads', 'layer_pattern',
                                    'drop_path_rate'}
        if unknown:
            raise ArgumentError(f'unknown arch fields {sorted(unknown)}')

        depths = overrides.get('depths')
        if overrides.get('layer_pattern') is not None:
            settings['layer_pattern'] = overrides['layer_pattern']
        elif depths is not None and preset:
            depths_of_preset = [len(s) for s in settings['layer_pattern']]
            if list(depths) != depths_of_preset:
                raise ArgumentError(
                    f'depths={list(depths)} disagrees with the layer_pattern of arch {arch!r} '
                    f'({settings["layer_pattern"]}, depths {depths_of_preset}); pass a '
                    'layer_pattern too: its lengths define the depths')
        if depths is None and not preset:
            depths = settings.get('depths')
        settings.update({k: v for k, v in overrides.items()
                         if v is not None and k not in ('layer_pattern', 'depths')})
        pattern = parse_layer_pattern(settings['layer_pattern'], NUM_STAGES, depths)
        settings['layer_pattern'] = pattern
        settings['depths'] = [len(s) for s in pattern]

        heads = list(settings['num_heads'])
        if len(heads) != NUM_STAGES:
            raise ArgumentError(f'num_heads {heads} must give one value per stage '
                             f'({NUM_STAGES})')
        settings['num_heads'] = heads
        for i, h in enumerate(heads):
            width = settings['embed_dims'] * 2**i
            if h < 1 or width % h or (width // h) % 4:
                raise ArgumentError(f'stage {i}: width {width} with {h} heads; the head dim '
                                 'width / heads must be an integer multiple of 4 (2-D RoPE)')
            if 'H' in pattern[i] and h % 2:
                raise ArgumentError(f"stage {i} ({pattern[i]!r}) has an 'H' block, which splits "
                                 f'its heads in half, but {h} heads is odd')
        return settings

    @staticmethod
    def _check_out_indices(out_indices: Union[Sequence[int], int]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        indices = []
        for i in out_indices:
            if not -NUM_STAGES <= i < NUM_STAGES:
                raise ArgumentError(f'out_indices {tuple(out_indices)}: {i} is not a stage '
                                 f'index in [-{NUM_STAGES}, {NUM_STAGES - 1}]')
            indices.append(i % NUM_STAGES)
        return tuple(sorted(set(indices)))

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, _BatchNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, in_channels, H, W) -> tuple of (B, C_i, ceil(H/2**(i+2)), ceil(W/2**(i+2)))
        for i in ``out_indices``.

        Odd sizes need no explicit pad-and-crop: every stride-2 step is a 3x3 conv with
        padding 1 (zero-pads the odd edge inside), which yields exactly the ceil sizes.
        """
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a 4-D input (B, '
                             f'{self.in_channels}, H, W), got shape {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} was built with in_channels='
                             f'{self.in_channels}, got an input with {x.shape[1]} channels '
                             f'(shape {tuple(x.shape)}); set in_channels to match the images')
        x = self.stem(x)
        outs, feats = [], []
        for i, stage in enumerate(self.stages):
            extra = self.hsb(feats[:2]) if (self.hsb is not None and i == 2) else None
            x = stage(x, extra)
            feats.append(x)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                outs.append(norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    # ------------------------------------------------------------------ training switches
    def _frozen_modules(self) -> List[nn.Module]:
        modules = []
        if self.frozen_stages >= 0:
            modules.append(self.stem)
        for i in range(min(self.frozen_stages + 1, NUM_STAGES)):
            modules.append(self.stages[i])
            if i == 2 and self.hsb is not None:
                modules.append(self.hsb)
            if i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        return modules

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'SoLAVision':
        """Set the mode; frozen stages stay in eval, and BatchNorm too with ``norm_eval``."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # -------------------------------------------------------------------- weights and lr
    def init_weights(self) -> None:
        """Load ``init_cfg``'s Pretrained checkpoint (logged, checked); other init_cfg types
        go through mmengine's initializers first, as in ``BaseModule.init_weights``. Without
        an init_cfg the constructor's init is kept."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        cfgs = [c for c in cfgs if c]
        # type='Pretrained', or the class itself in new-style (lazy) configs
        pretrained = [c for c in cfgs if getattr(c.get('type'), '__name__', c.get('type'))
                      in ('Pretrained', 'PretrainedInit')]
        if not pretrained:
            return super().init_weights()
        others = [c for c in cfgs if c not in pretrained]
        if others:  # e.g. a Kaiming init under the checkpoint; no submodule has init_weights
            initialize(self, others)
        for cfg in pretrained:
            load_pretrained(self, cfg['checkpoint'], prefix=cfg.get('prefix'),
                            map_location=cfg.get('map_location', 'cpu'))
        self._is_init = True

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        # Checkpoint compatibility lives here: convert keys of older versions before loading
        # (none so far: see _version). A foreign checkpoint's keys (load_from / tools/test.py
        # with an MLLA file) are converted first.
        convert_foreign_keys_on_load(self, state_dict, prefix, local_metadata)
        version = local_metadata.get('version', None)
        if version is not None and version > self._version:
            from mmengine.logging import print_log
            print_log(f'{type(self).__name__}: checkpoint version {version} is newer than '
                      f'this code ({self._version})', logger='current',
                      level=logging.WARNING)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise lr decay, and the number of layers.

        The stem is 0, block ``j`` (counted over all stages) is ``j + 1``; a downsample and
        the HSB share the id of the first block they feed; the output norms and anything
        outside the backbone (no ``prefix``, e.g. the head) get ``num_layers - 1``, where
        ``num_layers = sum(depths) + 2``.

        Returns:
            Tuple[int, int]: ``(layer_depth, num_layers)`` as mmpretrain's
            ``LearningRateDecayOptimWrapperConstructor`` expects.
        """
        num_layers = sum(self.depths) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        parts = name.split('.')
        if parts[0] == 'stem':
            depth = 0
        elif parts[0] == 'stages':
            stage = int(parts[1])
            first = sum(self.depths[:stage]) + 1
            depth = first + int(parts[3]) if parts[2] == 'blocks' else first
        elif parts[0] == 'hsb':
            depth = sum(self.depths[:2]) + 1
        else:
            depth = num_layers - 1
        return depth, num_layers

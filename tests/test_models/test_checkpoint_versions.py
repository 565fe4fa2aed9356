"""SoLAVision's checkpoints carry ``_version`` (2) in their metadata for the load hook, and a
state dict without that metadata (rebuilt by hand, by mmengine's ``revise_keys`` or
``Pretrained(prefix=...)``, or read from safetensors) is today's layout and loads."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from tests.support.small_models import randomize_, small_backbone

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _saved_and_loaded(obj, tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(obj, path)
    return torch.load(path, weights_only=True)


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x)


def _assert_same_outputs(a, b, x):
    for out_a, out_b in zip(_outputs(a, x), _outputs(b, x)):
        torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)


def test_checkpoint_records_its_version_and_reloads_exactly(tmp_path):
    model = randomize_(small_backbone(attn_backend='torch'))
    state = _saved_and_loaded(model.state_dict(), tmp_path)  # weights-only keeps the metadata
    assert state._metadata[''] == {'version': 2}
    fresh = small_backbone(attn_backend='torch')
    fresh.load_state_dict(state, strict=True)
    _assert_same_outputs(fresh, model, torch.randn(1, 3, 45, 61))


def test_a_state_dict_without_version_metadata_loads_as_todays():
    model = randomize_(small_backbone(attn_backend='torch'))
    plain = {k: v.clone() for k, v in model.state_dict().items()}  # no _metadata at all
    fresh = small_backbone(attn_backend='torch')
    fresh.load_state_dict(plain, strict=True)
    _assert_same_outputs(fresh, model, torch.randn(1, 3, 45, 61))


def test_a_newer_version_loads_with_a_warning():
    state = small_backbone().state_dict()
    state._metadata[''] = {'version': 3}
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        small_backbone().load_state_dict(state, strict=True)
    finally:
        logger.removeHandler(handler)
    assert any('checkpoint version 3 is newer than this code (2)' in r.getMessage()
               for r in records)


class _WithBackbone(nn.Module):
    """A classifier- or detector-like parent: the backbone's keys under ``backbone.``."""

    def __init__(self, **kwargs):
        super().__init__()
        self.backbone = small_backbone(attn_backend='torch', **kwargs)
        self.head = nn.Linear(128, 3)


def test_a_parents_checkpoint_loads_every_standard_way(tmp_path):
    """init_cfg Pretrained with prefix='backbone.', the export's strict loader and the whole
    parent (as a Runner's load_from) all give the saved backbone."""
    from mmsola.deploy.checkpoint import load_checkpoint_strict
    parent = randomize_(_WithBackbone())
    path = tmp_path / 'cls.pth'
    torch.save({'state_dict': parent.state_dict()}, path)
    x = torch.randn(1, 3, 45, 61)

    cfg = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    by_init_cfg = small_backbone(attn_backend='torch', init_cfg=cfg)
    by_init_cfg.init_weights()
    _assert_same_outputs(by_init_cfg, parent.backbone, x)

    strict = small_backbone(attn_backend='torch')
    assert load_checkpoint_strict(strict, str(path), prefix='backbone.') > 0
    _assert_same_outputs(strict, parent.backbone, x)

    whole = _WithBackbone()
    whole.load_state_dict(torch.load(path, weights_only=True)['state_dict'])
    _assert_same_outputs(whole.backbone, parent.backbone, x)

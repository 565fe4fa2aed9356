"""The README's "use SoLAVision in your own config" snippet still works: it is read from
README.md (between ``<!-- snippet:own-config -->`` and ``<!-- /snippet -->``), loaded as a
config file through mmsola's loader, and its model built and run on an image."""
import re

import pytest
import torch

from tests.support.configs import REPO_ROOT

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmpretrain')

MARKED = re.compile(r'<!-- snippet:own-config -->\s*```python\n(.*?)```\s*<!-- /snippet -->',
                    re.S)


def readme_snippet() -> str:
    found = MARKED.findall((REPO_ROOT / 'README.md').read_text())
    assert len(found) == 1, ('README.md must hold exactly one ```python block between '
                             '<!-- snippet:own-config --> and <!-- /snippet -->')
    return found[0]


def _run_once(model, scope):
    """One inference on a 64x64 image with the toolkit's own output format."""
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        if scope == 'mmdet':
            from mmdet.structures import DetDataSample
            sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                                 scale_factor=(1., 1.)))
            return model.predict(image, [sample])[0].pred_instances.bboxes
        return model(image, mode='tensor')


def test_readme_own_config_snippet_builds_and_runs(tmp_path):
    from mmsola.checks.config import build_model, load_config, toolkit_of

    snippet = readme_snippet()
    path = tmp_path / 'my_config.py'
    path.write_text(snippet)
    cfg = load_config(str(path))  # checks custom_imports and the toolkit scope
    assert re.search(r"_base_ = \['(mmdet|mmseg|mmpretrain)::", snippet), \
        'the snippet should start from a config of an installed toolkit'
    assert cfg.model.backbone.type == 'SoLAVision'

    torch.manual_seed(0)
    model = build_model(cfg)  # no init: the snippet's checkpoint path is not read
    assert type(model.backbone).__name__ == 'SoLAVision'
    out = _run_once(model, toolkit_of(cfg))
    assert torch.isfinite(out).all()
    if toolkit_of(cfg) == 'mmseg':
        assert out.shape == (1, cfg.model.decode_head.num_classes, 16, 16)

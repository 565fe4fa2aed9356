"""``import mmsola`` lets mmengine take ``mmsola::<file>.py`` base names (flat, as mmsola's
configs are) besides its own ``<package>::<dir>/<file>.py``, and changes nothing for other
names. The whole lookup, from an installed wheel: tests/packaging/test_wheel.py."""
import mmengine.config.config as config_module
import mmengine.hub.hub as hub_module
import pytest

import mmsola  # noqa: F401  (registers the package with mmengine)
from mmsola.utils import register_config_package


@pytest.mark.parametrize('module', [config_module, hub_module], ids=['Config', 'get_config'])
def test_flat_and_folder_names_resolve_to_mmsola(module):
    check = module._get_package_and_cfg_path
    assert check('mmsola::upernet_sola_t_ade20k.py') == ('mmsola', 'upernet_sola_t_ade20k.py')
    assert check('mmsola::upernet/upernet_sola_t_ade20k.py') == \
        ('mmsola', 'upernet/upernet_sola_t_ade20k.py')
    assert check('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py') == \
        ('mmdet', 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')


@pytest.mark.parametrize('name', ['mmdet::faster-rcnn_r50_fpn_1x_coco.py',  # other packages:
                                  'mmsola::a::b.py'])  # mmengine's own check, its message
def test_other_names_still_get_mmengines_error(name):
    with pytest.raises(ValueError, match='relative config path|only be used to separate'):
        config_module._get_package_and_cfg_path(name)


def test_registering_twice_wraps_once():
    before = config_module._get_package_and_cfg_path
    register_config_package()
    assert config_module._get_package_and_cfg_path is before
    assert before.__wrapped__.__module__ == 'mmengine.config.utils'

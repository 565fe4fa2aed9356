"""``import mmsola`` adds mmsola to mmengine's table of config packages, so
``mmsola::<family>/<file>.py`` base names resolve, and replaces none of mmengine's functions.
The whole lookup, from an installed wheel: tests/test_packaging/test_wheel.py."""
import mmengine.config.config as config_module
import mmengine.hub.hub as hub_module
import pytest
from mmengine.config import utils as config_utils

import mmsola  # noqa: F401  (registers the package with mmengine)
from mmsola.utils import register_config_package


def test_mmsola_is_a_config_package_and_mmengine_is_untouched():
    assert config_utils.MODULE2PACKAGE['mmsola'] == 'mmsola'
    for module in (config_module, hub_module):  # the modules that imported the name check
        assert module._get_package_and_cfg_path is config_utils._get_package_and_cfg_path
    check = config_utils._get_package_and_cfg_path
    assert check('mmsola::upernet/upernet_sola_t_ade20k.py') == \
        ('mmsola', 'upernet/upernet_sola_t_ade20k.py')


def test_the_flat_form_is_mmengines_error():
    """mmengine 0.10 requires a folder: the family folder is the form to write."""
    with pytest.raises(ValueError, match='relative config path'):
        config_utils._get_package_and_cfg_path('mmsola::upernet_sola_t_ade20k.py')


def test_registering_twice_changes_nothing():
    before = dict(config_utils.MODULE2PACKAGE)
    register_config_package()
    assert config_utils.MODULE2PACKAGE == before

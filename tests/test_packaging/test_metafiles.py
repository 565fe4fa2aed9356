"""model-index.yml and the metafiles list every config once, from its family folder, with the
parameters and FLOPs of the family README's model table (both measured by
tools/analysis/get_flops.py), and the paper's numbers only as metrics named "(paper)", which the
family README gives as the paper's."""
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / 'configs'


def metafiles():
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    return [REPO_ROOT / path for path in index['Import']]


def models():
    return {m['Name']: m for path in metafiles()
            for m in yaml.safe_load(path.read_text())['Models']}


def family_of(name: str) -> str:
    return next(path.parent.name for path in metafiles()
                if name in {m['Name'] for m in yaml.safe_load(path.read_text())['Models']})


def model_table(family: str):
    """``{config stem: (params M, FLOPs G)}`` of ``configs/<family>/README.md``'s table."""
    readme = (CONFIGS / family / 'README.md').read_text()
    return {name: (float(params), float(flops)) for name, params, flops in re.findall(
        r'^\| \[([\w.-]+)\.py\]\([\w.-]+\.py\) \| ([\d.]+) \| ([\d.]+) \|', readme,
        re.MULTILINE)}


def test_every_metafile_is_a_family_folder_of_configs():
    for path in metafiles():
        assert path.name == 'metafile.yml' and path.parent.parent == CONFIGS, path
        listed = {m['Config'] for m in yaml.safe_load(path.read_text())['Models']}
        held = {str(p.relative_to(REPO_ROOT)) for p in path.parent.glob('*.py')}
        assert listed == held, f'{path.parent}: listed {sorted(listed)}, holds {sorted(held)}'
        assert (path.parent / 'README.md').is_file()


def test_each_config_is_listed_once_under_its_own_name():
    listed = [m for path in metafiles() for m in yaml.safe_load(path.read_text())['Models']]
    assert sorted(m['Name'] for m in listed) == sorted(p.stem for p in CONFIGS.glob('*.py'))
    for m in listed:  # the top-level name is a one-line config inheriting the family's
        family = Path(m['Config']).parent.name
        assert m['Config'] == f'configs/{family}/{m["Name"]}.py'
        assert f"'./{family}/{m['Name']}.py'" in (CONFIGS / f'{m["Name"]}.py').read_text()


@pytest.mark.parametrize('name', sorted(models()))
def test_params_and_flops_are_the_measured_ones_of_the_family_readme(name):
    meta = models()[name]['Metadata']
    params, flops = model_table(family_of(name))[name]
    assert (round(meta['Parameters'] / 1e6, 2), round(meta['FLOPs'] / 1e9, 2)) == (params, flops)


@pytest.mark.parametrize('name', sorted(models()))
def test_the_papers_numbers_are_labelled_and_are_the_family_readmes(name):
    readme = ' '.join((CONFIGS / family_of(name) / 'README.md').read_text().split())
    for result in models()[name].get('Results', []):
        for metric, value in result['Metrics'].items():
            assert metric.endswith('(paper)'), \
                f'{name}: no mmsola checkpoint exists, so {metric!r} must be the paper\'s'
            assert "the paper's SoLA-Vision" in readme and f'**{value}' in readme, \
                f'{name}: {metric} {value} is not the README\'s paper number'


@pytest.mark.slow
def test_sola_t_in1k_measures_as_its_metafile_says():
    from mmsola.analysis.flops import report_config
    r = report_config(str(CONFIGS / 'sola' / 'sola_t_in1k.py'))
    meta = models()['sola_t_in1k']['Metadata']
    assert (r['params'], r['flops']) == (meta['Parameters'], meta['FLOPs'])
    assert meta['Input Size'] == f'{r["shape"][0]}x{r["shape"][1]}'


@pytest.mark.parametrize('arch', 'tsb')
def test_a_3x_config_lists_the_numbers_of_its_1x_model(arch):
    """The 3x metafile entries repeat the 1x measurement: same model, same test size."""
    pytest.importorskip('mmdet')
    from tests.support.configs import load, metafiles_read_once
    one, three = f'mask_rcnn_sola_{arch}_fpn_1x_coco', f'mask_rcnn_sola_{arch}_fpn_3x_coco'
    with metafiles_read_once():
        cfg_1x, cfg_3x = load(f'{one}.py'), load(f'{three}.py')
    assert cfg_1x.model == cfg_3x.model and cfg_1x.test_pipeline == cfg_3x.test_pipeline
    assert models()[one]['Metadata'] == dict(models()[three]['Metadata'], Epochs=12)

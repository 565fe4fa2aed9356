"""The supported version ranges have one source, mmsola/version.py: the README says the same,
and the tested pins lie inside them."""
import re
from pathlib import Path

import pytest
from mmengine.utils import digit_version

from mmsola.version import SUPPORTED_VERSIONS, requirement

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / 'README.md').read_text()
DISTS = {dist: name for name, (dist, _, _) in SUPPORTED_VERSIONS.items()}


def pinned_versions():
    pins = {}
    for line in (REPO_ROOT / 'requirements' / 'pinned.txt').read_text().splitlines():
        if '==' in line and not line.startswith('#'):
            dist, version = line.split('==')
            pins[dist.strip()] = version.strip()
    return pins


def readme_table():
    """``{distribution: (supported, tested)}`` from the README's table of supported versions."""
    rows = re.findall(r'^\| (\w+) \| (>=[\w.]+,<[\w.]+) \| ([\w.]+) \|$', README, re.MULTILINE)
    return {dist: (supported, tested) for dist, supported, tested in rows}


def test_the_readme_table_is_the_supported_table_with_the_pins():
    pins = pinned_versions()
    expected = {dist: (requirement(name).removeprefix(dist), pins[dist])
                for dist, name in DISTS.items()}
    assert readme_table() == expected, (
        'the README table of supported versions is out of step with SUPPORTED_VERSIONS in '
        'mmsola/version.py or with requirements/pinned.txt: update the README')


def test_every_version_range_the_readme_names_is_the_supported_one():
    named = re.findall(r'\b(mmengine|mmcv|mmdet|mmsegmentation|mmpretrain)((?:[<>=!]=?[\w.]+,?)+)',
                       README)
    assert {dist for dist, _ in named} >= {'mmcv', 'mmdet', 'mmsegmentation', 'mmpretrain'}, \
        "the README's install commands lost the toolkits' ranges"
    for dist, spec in named:
        assert f'{dist}{spec}' == requirement(DISTS[dist]), \
            f'README says {dist}{spec}; mmsola/version.py supports {requirement(DISTS[dist])}'


@pytest.mark.parametrize('name', sorted(SUPPORTED_VERSIONS))
def test_the_tested_pin_is_inside_the_supported_range(name):
    dist, low, high = SUPPORTED_VERSIONS[name]
    pinned = pinned_versions()[dist]
    assert digit_version(low) <= digit_version(pinned) < digit_version(high), \
        f'requirements/pinned.txt tests {dist} {pinned}, outside {requirement(name)}'


def test_the_requirement_string():
    assert requirement('mmseg') == 'mmsegmentation>=1.0.0,<1.3.0'

"""The supported version ranges have one source, mmsola/version.py: the requirement files pip
reads, the README and the docs say the same, and the tested pins lie inside them."""
import re
from pathlib import Path

import pytest
from mmengine.utils import digit_version
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mmsola.version import SUPPORTED_VERSIONS, requirement

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / 'README.md').read_text()
GET_STARTED = (REPO_ROOT / 'docs' / 'en' / 'get_started.md').read_text()
DISTS = {dist: name for name, (dist, _, _) in SUPPORTED_VERSIONS.items()}


def read_requirements(path):
    """``[(file, Requirement)]`` of a requirements file, following its ``-r`` lines."""
    found = []
    for line in path.read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line.startswith('-r '):
            found += read_requirements(path.parent / line[3:].strip())
        elif line:
            found.append((path.relative_to(REPO_ROOT).as_posix(), Requirement(line)))
    return found


def pinned_versions():
    pins = {}
    for line in (REPO_ROOT / 'requirements' / 'pinned.txt').read_text().splitlines():
        if '==' in line and not line.startswith('#'):
            dist, version = line.split('==')
            pins[dist.strip()] = version.strip()
    return pins


def readme_table(text=README):
    """``{distribution: (supported, tested)}`` from a table of supported versions."""
    rows = re.findall(r'^\| (\w+) \| (>=[\w.]+,<[\w.]+) \| ([\w.]+) \|$', text, re.MULTILINE)
    return {dist: (supported, tested) for dist, supported, tested in rows}


def test_the_readme_table_is_the_supported_table_with_the_pins():
    pins = pinned_versions()
    expected = {dist: (requirement(name).removeprefix(dist), pins[dist])
                for dist, name in DISTS.items()}
    assert readme_table() == expected, (
        'the README table of supported versions is out of step with SUPPORTED_VERSIONS in '
        'mmsola/version.py or with requirements/pinned.txt: update the README')


def test_the_get_started_table_is_the_supported_table_with_the_pins():
    pins = pinned_versions()
    expected = {dist: (requirement(name).removeprefix(dist), pins[dist])
                for dist, name in DISTS.items()}
    assert readme_table(GET_STARTED) == expected, (
        'the table of supported versions in docs/en/get_started.md is out of step with '
        'SUPPORTED_VERSIONS in mmsola/version.py or with requirements/pinned.txt: update it')


def test_the_requirement_files_name_the_supported_ranges():
    """pip (requirements.txt, setup.py's install_requires and extras) reads the same ranges."""
    named = {}
    for path in sorted((REPO_ROOT / 'requirements').glob('*.txt')):
        if path.name == 'pinned.txt':
            continue
        for file, req in read_requirements(path):
            if canonicalize_name(req.name) in DISTS:
                named.setdefault(req.name, set()).add((file, str(req.specifier)))
    for name, (dist, _, _) in SUPPORTED_VERSIONS.items():
        want = Requirement(requirement(name)).specifier
        assert dist in named, f'no file in requirements/ names {dist}: add {requirement(name)}'
        for file, spec in named[dist]:
            assert spec == str(want), \
                f'{file} says {dist}{spec}; mmsola/version.py supports {requirement(name)}'


def test_everything_the_installer_installs_is_pinned_inside_its_requirement():
    """tools/install.sh installs requirements.txt and requirements/build.txt with pinned.txt as
    constraints: each package they name has its tested version there, inside their range."""
    pins = {canonicalize_name(dist): version for dist, version in pinned_versions().items()}
    reqs = read_requirements(REPO_ROOT / 'requirements.txt')
    assert {file for file, _ in reqs} >= {'requirements/runtime.txt', 'requirements/mminstall.txt'}
    for file, req in reqs + read_requirements(REPO_ROOT / 'requirements' / 'build.txt'):
        version = pins.get(canonicalize_name(req.name))
        assert version is not None, f'{file} names {req.name}, which requirements/pinned.txt lacks'
        assert req.specifier.contains(version, prereleases=True), \
            f'requirements/pinned.txt pins {req.name}=={version}, outside {file}: {req}'


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

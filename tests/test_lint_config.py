"""Contributors' pre-commit hook lints with the ruff that `make lint` and CI install."""
import re

import yaml

from tests.support.paths import REPO_ROOT


def test_pre_commit_runs_the_pinned_ruff():
    pins = (REPO_ROOT / 'requirements' / 'lint.txt').read_text()
    pinned = re.findall(r'^ruff==(\S+)$', pins, flags=re.MULTILINE)
    assert len(pinned) == 1, f'requirements/lint.txt should pin ruff once (ruff==X.Y.Z): {pinned}'
    config = yaml.safe_load((REPO_ROOT / '.pre-commit-config.yaml').read_text())
    revs = [repo['rev'] for repo in config['repos']
            if repo['repo'] == 'https://github.com/astral-sh/ruff-pre-commit']
    assert revs == [f'v{pinned[0]}'], (
        f'.pre-commit-config.yaml runs ruff {revs}, requirements/lint.txt pins {pinned[0]}: '
        'change both together')

"""Every relative link and every repository path that a Markdown file of the repository names
resolves: a reader who follows a link or types a documented command finds the file.

Checked in each tracked (or new, not ignored) ``*.md``:

* links ``[text](target)``, images and reference definitions ``[name]: target`` that are not
  URLs or in-page anchors: the target, relative to the file, exists (its ``#anchor`` aside);
* paths in code (inline spans and fenced blocks) whose first folder is one of this repository's
  (:data:`OUR_FOLDERS`): they exist from the repository root. ``{a,b}`` is expanded and each
  name must exist; a glob (``*``, ``?``) must match something; a placeholder component
  (``<name>``, ``...``, ``$VAR``) ends the check at the folder before it. Paths with another
  first folder (``mmdet/...``, ``work_dirs/...``, ``data/...``) are not ours and not checked.
"""
import glob
import itertools
import re
import subprocess

import pytest

from tests.support.paths import REPO_ROOT

# a code path whose first folder is one of these names a file of this repository
OUR_FOLDERS = ('.ci', 'benchmarks', 'configs', 'demo', 'docs', 'mmsola', 'projects',
               'requirements', 'tests', 'tools')
# paths under those folders that a fresh clone does not have, and why the docs name them
NOT_IN_A_CLONE = {
    'mmsola/.mim': 'written by the editable install (setup.py); gitignored',
    'docs/en/_build/html': 'written by `make docs`; gitignored',
}

LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)', re.MULTILINE)
FENCE = re.compile(r'^([ \t]*)(```+|~~~+)[^\n]*\n(.*?)^\1\2[ \t]*$', re.MULTILINE | re.DOTALL)
INLINE = re.compile(r'(`+)(.+?)\1', re.DOTALL)
SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')
# a token ends at whitespace, quotes, parentheses, square brackets, '=' and '|'
TOKEN_SPLIT = re.compile(r'''[\s'"()=|\[\]]+''')
PLACEHOLDER = re.compile(r'[<>$]|\.\.\.|^[A-Z][A-Z0-9_]*$')


def markdown_files(root=REPO_ROOT):
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard',
                          '-z', '*.md'], cwd=root, capture_output=True, text=True, check=True)
    return sorted(p for p in out.stdout.split('\0') if p and (root / p).is_file())


def code_and_prose(text):
    """(the code of the file: fenced blocks and inline spans, the prose around them)."""
    code = [m.group(3) for m in FENCE.finditer(text)]
    rest = FENCE.sub('\n', text)
    code += [m.group(2) for m in INLINE.finditer(rest)]
    return code, INLINE.sub(' ', rest)


def expand_braces(path):
    """'a_{t,s}_b/{x,y}' -> ['a_t_b/x', 'a_t_b/y', 'a_s_b/x', 'a_s_b/y']."""
    parts = re.split(r'\{([^{}]*,[^{}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def our_path(token):
    """The repository path a code token names, or None if it names none of ours."""
    token = token.strip('`*,;:.').removeprefix('./')
    token = re.sub(r':\d+$', '', token)  # file.py:123
    parts = token.rstrip('/').split('/')
    if len(parts) < 2 or SCHEME.match(token) or parts[0] not in OUR_FOLDERS:
        return None  # a bare `folder/` may be relative to anything
    return token


def path_problem(path, root):
    """Why ``path`` (repository-relative, as :func:`our_path` gives it) does not resolve."""
    parts = path.rstrip('/').split('/')
    for i, part in enumerate(parts):
        if PLACEHOLDER.search(part):  # check the folder before the placeholder
            parts = parts[:i]
            break
    checked = '/'.join(parts)
    if not checked or checked in NOT_IN_A_CLONE:
        return None
    for name in expand_braces(checked):
        if any(c in name for c in '*?'):
            if not glob.glob(str(root / name), recursive=True):
                return f'`{path}`: nothing matches {name}'
        elif not (root / name).exists():
            return f'`{path}`: {name} does not exist'
    return None


def problems(md_file, root=REPO_ROOT):
    """What in ``md_file`` (repository-relative) does not resolve: a list of messages."""
    text = (root / md_file).read_text()
    code, prose = code_and_prose(text)
    found = []
    for target in LINK.findall(prose) + REFERENCE.findall(prose):
        if SCHEME.match(target) or target.startswith('#'):
            continue
        target = target.split('#', 1)[0]
        base = root if target.startswith('/') else (root / md_file).parent
        if not (base / target.lstrip('/')).exists():
            found.append(f'link ({target}) does not exist')
    for token in itertools.chain.from_iterable(TOKEN_SPLIT.split(c) for c in code):
        path = our_path(token)
        problem = path and path_problem(path, root)
        if problem:
            found.append(problem)
    return sorted(set(found))


@pytest.mark.parametrize('md_file', markdown_files())
def test_every_link_and_repository_path_resolves(md_file):
    found = problems(md_file)
    assert not found, f'{md_file} names what does not exist:\n  ' + '\n  '.join(found)


def test_the_check_finds_a_broken_link_and_a_missing_path(tmp_path):
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'train.py').write_text('')
    (tmp_path / 'configs' / 'sola').mkdir(parents=True)
    for name in ('sola_t_in1k.py', 'sola_s_in1k.py'):
        (tmp_path / 'configs' / 'sola' / name).write_text('')
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'ok.md').write_text('# ok\n')
    (tmp_path / 'docs' / 'page.md').write_text(
        'See [ok](ok.md#ok), [gone](gone.md), [web](https://example.org/x.md) and [a](#a).\n'
        'Run `python tools/train.py configs/sola/sola_t_in1k.py` or `tools/test.py`;\n'
        'any of `configs/sola/sola_{t,s,b}_in1k.py`, `configs/sola/*.py`, `configs/x/*.py`,\n'
        '`tools/<name>.py`, `mmdet/configs/anything.py` and `work_dirs/x/epoch_1.pth`.\n\n'
        '```bash\npython tools/infer.py CONFIG CKPT --out-dir outputs/\n```\n')
    assert problems('docs/page.md', root=tmp_path) == sorted([
        'link (gone.md) does not exist',
        '`tools/test.py`: tools/test.py does not exist',
        '`configs/sola/sola_{t,s,b}_in1k.py`: configs/sola/sola_b_in1k.py does not exist',
        '`configs/x/*.py`: nothing matches configs/x/*.py',
        '`tools/infer.py`: tools/infer.py does not exist',
    ])
    (tmp_path / 'docs' / 'fine.md').write_text('[ok](ok.md) and `tools/train.py`, `tools/*.py`\n')
    assert problems('docs/fine.md', root=tmp_path) == []

"""Running the tools (tools/train.py, tools/test.py, ...) from tests, in-process or as real
processes.

:func:`load_tool` imports a tool script as a module (its ``parse_args`` and ``main`` and the
work between them); :func:`train` and :func:`test` run the work of tools/train.py and
tools/test.py in this process (user errors raise, the trained model or the metrics are
returned); :func:`main` runs a tool's ``main()`` (exit status and stderr), as a user's command
does, and :func:`run_cli` runs the tool itself, as a process.

In-process runs share mmengine's global instances (logger, message hub, visualizer) keyed
by name; :func:`tiny_options` gives every run its own names so runs stay apart, as separate
processes would be.

:class:`RankProbeHook` (registered on import, e.g. through a config's ``custom_imports``)
records, per process and iteration, which samples it trained on.
"""
import argparse
import contextlib
import hashlib
import importlib.util
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from tests.support.fake_data import tiny_cfg_options
from tests.support.paths import REPO_ROOT

_RUN_IDS = itertools.count()


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` (``'train'``, ``'model_converters/publish_model'``) as a module,
    imported once per process (its ``if __name__ == '__main__'`` part does not run)."""
    key = 'tools_' + name.replace('/', '_')
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, REPO_ROOT / 'tools' / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def tool_main(name: str):
    """``tools/<name>.py``'s ``main(argv) -> int``."""
    return load_tool(name).main


def tiny_options(config: str, data_root, work_dir, extra: Sequence[str] = (),
                 **shrink) -> List[str]:
    """``--cfg-options`` values: the config shrunk onto ``data_root`` (fake_data), unique
    mmengine instance names, then ``extra`` (later keys win)."""
    run = f'{Path(config).stem}_{os.getpid()}_{next(_RUN_IDS)}'
    return [*tiny_cfg_options(REPO_ROOT / config, data_root, work_dir=work_dir, **shrink),
            f'experiment_name={run}', f'visualizer.name=vis_{run}', *extra]


def parsed_options(options: Sequence[str]) -> dict:
    """``--cfg-options`` strings as the tools' ``DictAction`` parses them."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *map(str, options)]).cfg_options


def train(config: str, options: Sequence[str], *args: str):
    """tools/train.py's work in this process; the trained model."""
    tool = load_tool('train')
    return tool.train(tool.parse_args([str(a) for a in [REPO_ROOT / config, *args,
                                                        '--cfg-options', *options]]))


def test(config: str, checkpoint, options: Sequence[str], *args: str) -> dict:
    """tools/test.py's work in this process; its metrics."""
    tool = load_tool('test')
    return tool.test(tool.parse_args([str(a) for a in [REPO_ROOT / config, checkpoint, *args,
                                                       '--cfg-options', *options]]))


def main(name: str, argv: Sequence[str]) -> Tuple[int, str]:
    """``tools/<name>.py``'s ``main(argv)`` in this process: its exit status and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = tool_main(name)([str(a) for a in argv])
    return status, err.getvalue()


def error_message(stderr: str, prog: str) -> str:
    """The one message of a tool's user error (``<prog>: error: ...``, after any warnings),
    from its ``error: `` on."""
    head = f'{prog}: error: '
    assert head in stderr, stderr[-3000:]
    return stderr[stderr.index(head) + len(prog) + 2:].rstrip('\n')


def run_cli(argv: Sequence[str], env: Optional[Dict[str, str]] = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """A command from the repository root, with the repository importable; output captured."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHON=sys.executable,
                    **(env or {}))
    return subprocess.run(list(argv), cwd=REPO_ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def snapshot(folder) -> Dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def last_json_metrics(work_dir) -> dict:
    """The last line of the newest run's json log (``<timestamp>[/vis_data]/<timestamp>.json``):
    the metrics of its last validation or test pass."""
    run = sorted(p for p in Path(work_dir).iterdir() if p.is_dir())[-1]
    log, = run.rglob(f'{run.name}.json')
    return json.loads(log.read_text().splitlines()[-1])


@HOOKS.register_module(force=True)
class RankProbeHook(Hook):
    """Writes ``rank<r>_iter<i>.json`` (the sample indices of that step) into ``out_dir``."""

    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        samples = [int(s.metainfo['sample_idx']) for s in data_batch['data_samples']]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f'rank{get_rank()}_iter{runner.iter}.json').write_text(
            json.dumps(dict(samples=samples, loss=float(outputs['loss']))))

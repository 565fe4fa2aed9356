"""The launcher check: ``--launcher`` can work here (its environment is set; CUDA where
mmengine needs it). :func:`mmsola.launcher.setup_launcher` then fits the config to it."""
import os

import torch

from mmsola.errors import UserError

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')

# What each launcher reads from the environment.
_LAUNCHER_ENV = {
    'pytorch': ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
    'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
    'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK'),
}
_HOW = {
    'pytorch': 'start it with tools/dist_train.sh CONFIG NPROC (or tools/dist_test.sh), '
               'which runs torchrun',
    'slurm': 'start it with tools/slurm_train.sh (or tools/slurm_test.sh), which runs srun',
    'mpi': 'start it with mpirun (Open MPI)',
}


class LauncherError(UserError, RuntimeError):
    """A launcher that cannot work in this environment; the message says what to do."""


def check_launcher(launcher: str) -> None:
    """Check that ``launcher`` can start a run in this process.

    Raises:
        LauncherError: an unknown launcher, the launcher's environment variables are
            missing (the script was not started by it), or ``'slurm'``/``'mpi'`` without CUDA
            (on CPU only ``'pytorch'``, torchrun with gloo, works).
    """
    if launcher not in LAUNCHERS:
        raise LauncherError(f'--launcher {launcher!r}: choose one of {LAUNCHERS}')
    if launcher == 'none':
        return
    absent = [name for name in _LAUNCHER_ENV[launcher] if name not in os.environ]
    if absent:
        raise LauncherError(
            f'--launcher {launcher} needs the environment its launcher sets, but '
            f'{", ".join(absent)} {"is" if len(absent) == 1 else "are"} not set: '
            f'{_HOW[launcher]}. For one process, use --launcher none.')
    if launcher != 'pytorch' and not torch.cuda.is_available():
        raise LauncherError(
            f'--launcher {launcher} needs CUDA GPUs (mmengine binds each process to one); '
            'this machine has none. On CPU, start several processes with '
            'tools/dist_train.sh CONFIG NPROC (torchrun, gloo), or one with --launcher none.')

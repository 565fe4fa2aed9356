# the checkpoint names are mmsola.checkpoint's, importable from here as they always were
from mmsola.checkpoint import (
    MMENGINE_CHECKPOINT_GLOBALS,
    CheckpointError,
    allow_mmengine_checkpoint_globals,
    is_remote,
    load_checkpoint_dict,
    read_checkpoint,
)
from .atomic_file_backend import ATOMIC_LOCAL_BACKEND, AtomicLocalBackend, remove_stale_temp_files
from .config_package import register_config_package
from .image_files import MIN_IMAGE_SIDE, ImageFileError, check_image
from .output_paths import OutputPathError, check_writable
from .version_check import (
    SUPPORTED_VERSIONS,
    IncompatibleVersionError,
    check_imported_versions,
    check_version,
    import_toolkit,
)

__all__ = [
    'ATOMIC_LOCAL_BACKEND', 'AtomicLocalBackend', 'remove_stale_temp_files', 'CheckpointError',
    'is_remote', 'load_checkpoint_dict', 'read_checkpoint', 'MIN_IMAGE_SIDE', 'ImageFileError',
    'check_image', 'OutputPathError', 'check_writable',
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoint_globals', 'register_config_package',
    'SUPPORTED_VERSIONS',
    'IncompatibleVersionError', 'check_imported_versions', 'check_version', 'import_toolkit'
]

"""Converters of foreign checkpoints into mmsola's (importable with torch + mmengine)."""
from .checkpoint_io import ConversionError, load_foreign_checkpoint, save_checkpoint_atomically
from .mlla import ConversionReport, convert_mlla_checkpoint

__all__ = [
    'ConversionError', 'ConversionReport', 'convert_mlla_checkpoint', 'load_foreign_checkpoint',
    'save_checkpoint_atomically'
]

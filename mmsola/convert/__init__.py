"""Converters of checkpoints into mmsola's (importable with torch + mmengine).

- :mod:`.mlla`: MLLA's checkpoints (``tools/model_converters/mlla2sola.py``).
- :mod:`.classifier`: a ``sola_*_in1k`` classifier's -> the dense configs' backbone
  (``tools/model_converters/cls2backbone.py``).
- :mod:`.publish`: a training checkpoint -> its release file, weights and meta only, sha256
  in the name (``tools/model_converters/publish_model.py``).
"""
from .checkpoint_io import ConversionError, load_foreign_checkpoint, save_checkpoint_atomically
from .mlla import ConversionReport, convert_mlla_checkpoint, convert_mlla_file
from .publish import publish, published_name

__all__ = [
    'ConversionError', 'ConversionReport', 'convert_mlla_checkpoint', 'convert_mlla_file',
    'load_foreign_checkpoint', 'save_checkpoint_atomically', 'publish', 'published_name'
]

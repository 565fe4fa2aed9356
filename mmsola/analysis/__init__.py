"""Analysis helpers that several tools share: timing and memory, FLOPs with the attention
counted, receptive fields, layer patterns and their cost, inference and resolution speed, and
the CSV files and tables they write (:mod:`.output`). Each tool's command line is its
``tools/analysis/<name>.py``.

Each module is imported on its own (``from mmsola.analysis.timing import time_callable``);
nothing heavy is imported here, so ``import mmsola`` stays torch + mmengine only.
"""

"""Analysis helpers (timing, memory, FLOPs, receptive fields).

Each module is imported on its own (``from mmsola.analysis.timing import time_callable``);
nothing heavy is imported here, so ``import mmsola`` stays torch + mmengine only.
"""

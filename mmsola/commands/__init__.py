"""The command lines of mmsola's analysis and demo tools: ``tools/{analysis,demo}/<name>.py``
only calls ``mmsola.commands.<name>.main`` (``tools/analysis/erf.py`` ->
:mod:`mmsola.commands.erf`). tools/train.py, test.py, infer.py, deployment/ and
model_converters/ hold their own command line.

Every module has ``main(argv=None) -> int``: it parses the arguments, hands the work to
:func:`mmsola.cli.run_tool` and returns the exit status (0, or 2 with one
``<tool>.py: error: ...`` line for a user error). Where the work is one call, ``parse_args``
and ``run`` are there too, so that tests and other code can run a tool's work in-process and
get its result (a model, metrics, rows) instead of an exit status.

Not imported by ``import mmsola``; a module imports its toolkit (mmdet, mmseg, mmpretrain,
onnx, matplotlib) only when its work runs, so ``-h`` stays fast.
"""

"""Studies built on mmsola that live beside the package, not in the wheel (as OpenMMLab repos
keep ``projects/<name>/``): each folder holds its code, its command lines and a README.md.
Run their scripts from the repository root, e.g. ``python -m projects.pattern_study.pattern_study``.
"""

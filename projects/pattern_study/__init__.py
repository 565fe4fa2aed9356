"""The pattern study: accuracy against layer pattern, one config trained once per pattern and
seed (:mod:`.study`), and the far-cue dataset of its CPU default (:mod:`.far_cue`). README.md
in this folder."""

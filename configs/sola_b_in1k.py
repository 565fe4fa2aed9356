# The config is configs/sola/sola_b_in1k.py; this is the name the docs type.
_base_ = ['./sola/sola_b_in1k.py']

# The config is configs/sola/sola_s_in1k.py; this is the name the docs type.
_base_ = ['./sola/sola_s_in1k.py']

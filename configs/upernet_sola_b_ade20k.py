# The config is configs/upernet/upernet_sola_b_ade20k.py; this is the name the docs type.
_base_ = ['./upernet/upernet_sola_b_ade20k.py']

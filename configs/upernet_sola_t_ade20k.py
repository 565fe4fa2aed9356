# The config is configs/upernet/upernet_sola_t_ade20k.py; this is the name the docs type.
_base_ = ['./upernet/upernet_sola_t_ade20k.py']

"""Example plant configs and scenarios; installed as the package data of ``plantqc.examples``.

A regular package (not a namespace one) so that setuptools' editable finder, which maps this
folder into ``plantqc``, resolves it as well as an installed wheel does.
"""

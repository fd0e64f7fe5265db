"""Closed-loop film thickness control: MD (pump rate) and CD (die bolts) controllers.

Pure functions and small classes on numpy arrays, like `spc`: no I/O, no clock, no database;
the daemon feeds them measurements and writes what they propose.
"""

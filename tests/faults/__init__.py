"""Fault scripts (`make faults`): long Discord outages and a killed bot, against the emulator.

Scripts, not tests: pytest collects only test_*.py files, and none is here.
"""

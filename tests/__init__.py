"""Tests of alignlab; helpers such as ``tests.judge_server`` import from this package."""

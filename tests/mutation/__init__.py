"""Mutation testing: the pytest plugin mutants run under and the score floor (docs/testing.md)."""

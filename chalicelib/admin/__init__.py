"""Operator commands: python -m chalicelib.admin <group> <command> (see __main__.py)."""

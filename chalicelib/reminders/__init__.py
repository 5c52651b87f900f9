"""Reminders: `planning` and `settings` are pure (stdlib only); `scheduling`, `sending` and `hourly`
talk to AWS.

Nothing is imported here on purpose: importing the package must stay cheap for every handler.
"""

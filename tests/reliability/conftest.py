"""The reliability tier: the fault matrix and the fuzzing of every CRM adapter, each test a row of
RELIABILITY.md (volume, lost, duplicate envelopes, 5xx). `make reliability` runs it with
SIGNBRIDGE_RELIABILITY_ROWS set and writes the report; in `make test` the rows are only asserted.
The `reliability_row` fixture lives in tests/support/fixtures.py (the API's schemathesis run is a row
too)."""

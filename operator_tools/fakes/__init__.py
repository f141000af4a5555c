"""Fakes that stand in for real parts: stage activities registered under the real activity names,
and an OpenAI-compatible HTTP server that answers well, badly, slowly or with 429s.

One set, shared by the tests, the benchmarks and `charmelio loadtest`.
"""

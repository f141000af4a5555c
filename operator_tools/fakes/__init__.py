"""Fakes that stand in for real parts: stage activities registered under the real activity names,
and one OpenAI-compatible HTTP server (`openai_server`, with its `replies`, `tokens`,
`rate_limits` and `served` modules) that answers well, badly, slowly, with 429s or like a
small-context model.

One set, shared by the tests, the benchmarks and `charmelio loadtest`.
"""

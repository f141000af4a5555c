"""What an operator or developer runs beside the product: the embedded local stack, the per-queue
load test, the CUAD evaluation, and the fakes (stage activities, an OpenAI-compatible server) that
tests, benchmarks and the load test share.

Tools use the kernel (`charmelio`) and the pools' public surfaces; nothing in the kernel or a pool
imports them.
"""

"""The extraction stage: turns a contract's page texts into clause findings backed by quotes.

Runs on its own task queue and worker pool so slow, rate-limited LLM calls scale (and fail) apart
from PDF parsing and database writes. Workers register `activities_for(settings)`; the provider is
an OpenAI-compatible endpoint when one is configured and the offline rules otherwise.
"""

from llm_worker._extraction import extract_verified
from llm_worker._openai import OpenAIExtractor
from llm_worker._provider import ClauseExtractor, ProviderOutput, usage_of
from llm_worker._rules import RulesExtractor
from llm_worker.activities import LLMActivities, activities_for, extractor_for

__all__ = [
    "ClauseExtractor",
    "LLMActivities",
    "OpenAIExtractor",
    "ProviderOutput",
    "RulesExtractor",
    "activities_for",
    "extract_verified",
    "extractor_for",
    "usage_of",
]

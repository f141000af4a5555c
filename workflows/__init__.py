"""Workflow definitions. Imports only temporalio, pydantic and the stage contract."""

from workflows.extraction import ExtractionWorkflow

__all__ = ["ExtractionWorkflow"]

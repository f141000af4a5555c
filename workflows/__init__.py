"""Workflow definitions. Imports only temporalio, pydantic and the stage contract."""

from workflows.batch import BatchExtractionWorkflow
from workflows.extraction import ExtractionWorkflow

__all__ = ["BatchExtractionWorkflow", "ExtractionWorkflow"]

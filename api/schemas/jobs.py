"""The job document: what ``/jobs`` lists and every endpoint that may answer ``202 Accepted`` returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobInfo"]


class JobInfo(BaseModel):
    """A background job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5e1d0e4a9b8d4c7e8f6a5b4c3d2e1f00",
                    "kind": "coverage",
                    "state": "running",
                    "percent": 40.0,
                    "step": "evaluating clinic-walk",
                    "created": 1767225600.0,
                    "started": 1767225600.1,
                    "finished": None,
                    "result": None,
                    "error": None,
                }
            ]
        }
    )

    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    percent: float
    step: str
    created: float
    started: float | None
    finished: float | None
    result: str | None = Field(description="URL of the result once the job succeeded.")
    error: dict[str, Any] | None = Field(description="`{status, detail}` when the job failed.")

"""What the model may answer: one pydantic model per operation, sent as a strict JSON schema
(structured outputs) and validated on the way back. Anything that does not validate is a
failed call, and the heuristic answers instead."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyOut(_Strict):
    label: Literal["blocker", "request", "update", "other"]
    confidence: float = Field(ge=0, le=1)
    blocked_on: str | None = Field(max_length=300)
    unblocker: str | None = Field(max_length=200)


class ReviewOut(_Strict):
    problem_stated: bool
    solution_in_disguise: bool
    next_question: str = Field(max_length=600)


class SummaryOut(_Strict):
    headline: str = Field(max_length=1000)

"""What the model may answer: one pydantic model per operation, sent as a strict JSON schema
(structured outputs) and validated on the way back. Anything that does not validate is a
failed call, and the heuristic answers instead.

Ranges and lengths are checked here, after the answer arrives, rather than written into the
schema: strict mode on some servers and API versions rejects keywords like `maximum` or
`maxLength` with a 400, which would turn every call into a fallback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict


def _unit(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _at_most(limit: int):  # type: ignore[no-untyped-def]
    def check(value: str | None) -> str | None:
        if value is not None and len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value
    return AfterValidator(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyOut(_Strict):
    label: Literal["blocker", "request", "update", "other"]
    confidence: Annotated[float, AfterValidator(_unit)]
    blocked_on: Annotated[str | None, _at_most(300)]
    unblocker: Annotated[str | None, _at_most(200)]


class ReviewOut(_Strict):
    problem_stated: bool
    solution_in_disguise: bool
    next_question: Annotated[str, _at_most(600)]


class SummaryOut(_Strict):
    headline: Annotated[str, _at_most(1000)]

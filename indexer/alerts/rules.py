"""Alert rules as users declare them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    query: str
    recipients: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    mode: Literal["instant", "hourly", "daily"] = "instant"
    daily_at: str = "08:00"
    enabled: bool = True

    @field_validator("query")
    @classmethod
    def _query_parses(cls, query: str) -> str:
        from indexer.query import parse  # local: keeps model import light

        parse(query)
        return query

"""Oversight settings, from environment variables prefixed `OVERSIGHT_`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.routing import COMMITTEE_CATEGORIES, COMMITTEE_FLAGS, CommitteeRule
from common.settings import ServiceSettings
from common.subjects import Service
from common.vocabulary import Category, Flag


class OversightSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    service: Service = Service.OVERSIGHT
    http_port: int = Service.OVERSIGHT.default_port
    #: the committee opens a case on every report with any of these flags ...
    watch_flags: frozenset[Flag] = COMMITTEE_FLAGS
    #: ... or of one of these categories. The committee's own choice: it opens cases on the
    #: reports it watches even in a township whose ledger routes fewer leads to it (the
    #: ledger's discipline_flags/discipline_categories), and on every lead transferred to it.
    watch_categories: frozenset[Category] = COMMITTEE_CATEGORIES
    #: supervision opens by itself when a deadline is passed by this many days
    overdue_days: int = Field(default=7, ge=0)
    #: ... when this many reports concern the same matter
    same_matter_reports: int = Field(default=3, ge=2)
    #: ... when a lead is open (not concluded) this many days after filing
    open_days: int = Field(default=90, ge=1)
    rules_check_seconds: float = Field(default=300.0, gt=0)
    #: views this many hours before a key moment count in the leak-risk report
    leak_window_hours: float = Field(default=48.0, gt=0)
    #: a person's reads of one lead within this many minutes of the first of them are one
    #: view in the access log and the leak-risk report (each read is still recorded)
    view_minutes: float = Field(default=10.0, ge=0, le=24 * 60)

    @property
    def committee_rule(self) -> CommitteeRule:
        return CommitteeRule(flags=self.watch_flags, categories=self.watch_categories)

"""Daily quotas, like the original PRISM's table: resource, limit per day, target, alert threshold.

A quota applies per key, per project or to the whole server (`per`). Before a request does
its work, `QuotaBook.check` refuses it (429 `quota_exceeded`, Retry-After at the next UTC
midnight) when one of the resources it spends is already at its limit for the day; after it,
`QuotaBook.observe` notices a threshold crossed and, once per quota, subject and day in the
whole server (a meter claim), logs a warning and posts to PRISM_ALERT_WEBHOOK. Counts come from
the meter, so several workers share them (within the meter's flush interval).

PRISM_QUOTAS is a JSON list; the default, none, is unlimited:

    [{"resource": "searches", "per": "key", "limit": 10000, "target": 5000, "alert": "80%"}]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from prism.errors import ConfigError, PrismError
from prism.ops.alerts import AlertSender
from prism.ops.meter import NONE, Meter, count, seconds_to_next_utc_day, utc_day

log = logging.getLogger("prism.quotas")

Resource = Literal["requests", "searches", "context_packs", "embeddings", "tokens_served", "index_writes"]
Per = Literal["key", "project", "server"]
RESOURCES: tuple[str, ...] = get_args(Resource)
PERS: tuple[str, ...] = get_args(Per)
# The resources a request spends, by the action its route declares (every request spends one request).
SPENT_BY_NEED: dict[str, tuple[str, ...]] = {
    "search": ("searches",),
    "context": ("context_packs", "tokens_served"),
    "index.write": ("index_writes", "embeddings"),
}
SERVER = "*"


class QuotaReachedError(PrismError):
    http_status = 429
    code = "quota_exceeded"

    def __init__(self, message: str, *, headers: dict[str, str], hint: str = "", value: object = None) -> None:
        super().__init__(message, hint=hint, value=value)
        self.headers = headers


@dataclass(frozen=True)
class Quota:
    resource: str
    per: str
    limit: int
    target: int | None = None  # what a day is planned to use: shown, never enforced
    alert: int | None = None  # the count that alerts; default 80 % of the limit

    @property
    def alert_at(self) -> int:
        return self.alert if self.alert is not None else max(1, (self.limit * 4 + 4) // 5)

    def to_dict(self) -> dict[str, object]:
        return {"resource": self.resource, "per": self.per, "limit": self.limit, "target": self.target,
                "alert": self.alert_at}


def _count(value: object, limit: int, name: str) -> int | None:
    """A count, or a percentage of the limit written "80%"."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return max(1, round(limit * float(value.strip()[:-1]) / 100))
        except ValueError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f"PRISM_QUOTAS: `{name}` must be a count or a percentage like \"80%\", not {value!r}.",
                      hint="See docs/settings.md (PRISM_QUOTAS).", value=value)


def parse_quotas(text: str | None) -> tuple[Quota, ...]:
    """PRISM_QUOTAS (JSON) → quotas; a clear ConfigError for anything malformed."""
    if not text or not text.strip():
        return ()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"PRISM_QUOTAS is not JSON: {exc}.", hint="See docs/settings.md (PRISM_QUOTAS).") from exc
    if not isinstance(data, list):
        raise ConfigError("PRISM_QUOTAS must be a JSON list of quotas.", hint="See docs/settings.md (PRISM_QUOTAS).")
    quotas = []
    for item in data:
        if not isinstance(item, dict) or item.get("resource") not in RESOURCES or item.get("per", "key") not in PERS:
            raise ConfigError(f"PRISM_QUOTAS: {item!r} needs a resource ({', '.join(RESOURCES)}) and per "
                              f"({', '.join(PERS)}).", hint="See docs/settings.md (PRISM_QUOTAS).", value=item)
        limit = _count(item.get("limit"), 0, "limit")
        if limit is None or limit < 1:
            raise ConfigError(f"PRISM_QUOTAS: {item!r} needs a positive `limit` per day.",
                              hint="Leave a resource out to keep it unlimited.", value=item)
        quotas.append(Quota(item["resource"], item.get("per", "key"), limit,
                            _count(item.get("target"), limit, "target"), _count(item.get("alert"), limit, "alert")))
    return tuple(quotas)


def _subject(quota: Quota, key: str, project: str) -> str | None:
    """Who the quota counts for this request; None when it does not apply (no key, no project)."""
    if quota.per == "server":
        return SERVER
    subject = key if quota.per == "key" else project
    return None if subject == NONE else subject


class QuotaBook:
    def __init__(self, quotas: tuple[Quota, ...], meter: Meter, alerts: AlertSender | None = None) -> None:
        self.quotas = quotas
        self.meter = meter
        self.alerts = alerts

    def used(self, quota: Quota, subject: str) -> int:
        if quota.per == "server":
            return self.meter.used_today(quota.resource)
        if quota.per == "key":
            return self.meter.used_today(quota.resource, key=subject)
        return self.meter.used_today(quota.resource, project=subject)

    def check(self, key: str, project: str, need: str) -> None:
        """Refuse the request if a resource it spends is at its daily limit."""
        if not self.quotas:
            return
        spends = ("requests", *SPENT_BY_NEED.get(need, ()))
        for quota in self.quotas:
            subject = _subject(quota, key, project)
            if quota.resource not in spends or subject is None:
                continue
            used = self.used(quota, subject)
            if used >= quota.limit:
                count("quota_refused")
                retry = seconds_to_next_utc_day()
                raise QuotaReachedError(
                    f"The daily {quota.resource} quota of {quota.limit} per {quota.per} is used up "
                    f"({used} today, {_who(quota, subject)}).",
                    headers={"Retry-After": str(retry)}, value=quota.resource,
                    hint=f"It resets at 00:00 UTC, in {retry} s; an operator can raise it (PRISM_QUOTAS).")

    def observe(self, key: str, project: str, tally: Mapping[str, int]) -> None:
        """After a request: alert (once per quota, subject and day) when it crossed a threshold."""
        for quota in self.quotas:
            subject = _subject(quota, key, project)
            if subject is None or not tally.get(quota.resource):
                continue
            used = self.used(quota, subject)
            for level, at in (("limit", quota.limit), ("alert", quota.alert_at)):
                if used >= at:
                    self._alert(quota, subject, level, used)
                    break

    def _alert(self, quota: Quota, subject: str, level: str, used: int) -> None:
        day = utc_day()
        if not self.meter.claim(f"quota:{day}:{quota.resource}:{quota.per}:{subject}:{level}"):
            return
        message = (f"quota {level} reached: {quota.resource} per {quota.per} at {used} of {quota.limit} "
                   f"today ({_who(quota, subject)})")
        payload: dict[str, Any] = {"event": f"quota.{level}", "message": message, "day": day, **quota.to_dict(),
                                   "subject": subject, "used": used}
        log.warning(message, extra={"fields": {"event": f"quota.{level}", "resource": quota.resource,
                                               "per": quota.per, "subject": subject, "used": used}})
        if self.alerts is not None:
            self.alerts.send(payload)

    def table(self, key: str | None = None) -> list[dict[str, object]]:
        """Today's use of every quota, for `/usage/quotas` and `prism usage`: one row per quota and subject."""
        day = utc_day()
        rows = self.meter.rows(day, key)
        out: list[dict[str, object]] = []
        for quota in self.quotas:
            if quota.per == "server":
                subjects = [SERVER]
            else:
                field = "key" if quota.per == "key" else "project"
                subjects = sorted({getattr(c, field) for c, _ in rows if getattr(c, field) != NONE})
                if key is not None and quota.per == "key":
                    subjects = [key]
            for subject in subjects:
                used = self.used(quota, subject)
                out.append({**quota.to_dict(), "subject": subject, "day": day, "used": used,
                            "percent": round(100 * used / quota.limit, 1)})
        return out


def _who(quota: Quota, subject: str) -> str:
    return "whole server" if quota.per == "server" else f"{quota.per} {subject}"

"""DNS-1123 names for services: what Kubernetes, compose and HAProxy accept."""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^a-z0-9-]+")
MAX_LABEL = 63


def dns_name(raw: str) -> str:
    """``Orders.Api`` → ``orders-api``; ``Customer Identity`` → ``customer-identity``."""
    name = _INVALID.sub("-", raw.strip().lower().replace("_", "-"))
    name = re.sub(r"-{2,}", "-", name).strip("-")
    if not name:
        name = "service"
    if name[0].isdigit():
        name = f"svc-{name}"
    return name[:MAX_LABEL].rstrip("-")


def unique_names(wanted: dict[str, str], contexts: dict[str, str]) -> dict[str, str]:
    """Give every key a distinct name: on a collision, prefix the bounded context, then number."""
    counts: dict[str, int] = {}
    for name in wanted.values():
        counts[name] = counts.get(name, 0) + 1
    out: dict[str, str] = {}
    # names that were unique from the start keep them; colliding ones are renamed around them
    used = {name for name, n in counts.items() if n == 1}
    for key in sorted(wanted):
        name = wanted[key]
        if counts[name] == 1:
            out[key] = name
            continue
        prefix = contexts.get(key, "")
        name = dns_name(f"{prefix}-{name}") if prefix and not name.startswith(prefix) else name
        candidate, n = name, 2
        while candidate in used:
            suffix = f"-{n}"
            candidate = name[: MAX_LABEL - len(suffix)].rstrip("-") + suffix
            n += 1
        used.add(candidate)
        out[key] = candidate
    return out

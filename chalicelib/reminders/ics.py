"""An iCalendar (RFC 5545) file for a reminder's deadline: one all-day VEVENT, written by hand (it is
small, and no calendar library ships with the app).

- `UID` is the reminder key (plus "@signbridge"): stable, so a client that sees the same event
  twice updates it instead of duplicating it.
- All-day: `DTSTART;VALUE=DATE` is the deadline, `DTEND` the day after (RFC 5545 §3.6.1: the end
  of a DATE event is exclusive). A date has no zone, so it stays on its day wherever it is opened.
- CRLF line endings; TEXT values escaped (§3.3.11); lines folded at 75 octets without splitting a
  UTF-8 character (§3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["CalendarEvent", "escape_text", "fold_line", "render_ics"]

PRODID = "-//signbridge//contract reminders//EN"
CRLF = "\r\n"
MAX_OCTETS = 75


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date  # the deadline (all day)
    summary: str
    description: str = ""
    url: str | None = None
    stamp: datetime | None = None  # DTSTAMP: when the file was made (aware); default now


def escape_text(value: str) -> str:
    """TEXT escaping: backslash, semicolon, comma; newlines as \\n (CR dropped)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def fold_line(line: str) -> str:
    """Folds one content line: at most 75 octets per physical line, continuation lines start with
    one space (which counts towards their 75), never inside a multi-byte UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    limit = MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, MAX_OCTETS - 1
        current += char
        size += width
    out.append(current)
    return (CRLF + " ").join(out)


def render_ics(event: CalendarEvent) -> bytes:
    stamp = (event.stamp or datetime.now(UTC)).astimezone(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
        f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{event.day + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.url:
        lines.append(f"URL:{event.url}")
    lines += ["TRANSP:TRANSPARENT", "STATUS:CONFIRMED", "END:VEVENT", "END:VCALENDAR"]
    return (CRLF.join(fold_line(line) for line in lines) + CRLF).encode("utf-8")

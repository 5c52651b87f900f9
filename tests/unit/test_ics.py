"""The .ics attachment (RFC 5545): one all-day VEVENT with a stable UID, CRLF line endings, TEXT
escaping and 75-octet folding that never splits a UTF-8 character."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.reminders.ics import CalendarEvent, escape_text, fold_line, render_ics


def unfold(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def event(**fields: object) -> CalendarEvent:
    base: dict[str, object] = {
        "uid": "ctr_1:payment:pay-2:2027-02-14:overdue:+1d@signbridge",
        "day": date(2027, 2, 14),
        "summary": "付款到期：HT-2026-0117 尾款",
        "description": "智能门锁销售合同\n杭州新禾贸易有限公司\n人民币 49,600.00 元",
        "url": "https://signbridge.example/v1/contracts/ctr_1",
        "stamp": datetime(2027, 2, 16, 1, 0, tzinfo=UTC),
    }
    base.update(fields)
    return CalendarEvent(**base)  # type: ignore[arg-type]


def test_an_all_day_event_at_the_deadline() -> None:
    lines = unfold(render_ics(event()))
    assert lines == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//signbridge//contract reminders//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        "UID:ctr_1:payment:pay-2:2027-02-14:overdue:+1d@signbridge",
        "DTSTAMP:20270216T010000Z",
        "DTSTART;VALUE=DATE:20270214",
        "DTEND;VALUE=DATE:20270215",  # exclusive: the event is the 14th, all day
        "SUMMARY:付款到期：HT-2026-0117 尾款",
        "DESCRIPTION:智能门锁销售合同\\n杭州新禾贸易有限公司\\n人民币 49\\,600.00 元",
        "URL:https://signbridge.example/v1/contracts/ctr_1",
        "TRANSP:TRANSPARENT",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


def test_the_end_crosses_month_and_year_boundaries() -> None:
    lines = unfold(render_ics(event(day=date(2027, 12, 31))))
    assert "DTSTART;VALUE=DATE:20271231" in lines and "DTEND;VALUE=DATE:20280101" in lines
    lines = unfold(render_ics(event(day=date(2028, 2, 28))))
    assert "DTEND;VALUE=DATE:20280229" in lines  # leap year


def test_the_stamp_is_utc_whatever_zone_it_comes_in() -> None:
    stamp = datetime(2027, 2, 16, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert "DTSTAMP:20270216T010000Z" in unfold(render_ics(event(stamp=stamp)))


def test_same_reminder_same_uid() -> None:
    a = unfold(render_ics(event(stamp=datetime(2027, 1, 1, tzinfo=UTC))))
    b = unfold(render_ics(event(stamp=datetime(2027, 3, 1, tzinfo=UTC))))
    assert [x for x in a if x.startswith("UID:")] == [x for x in b if x.startswith("UID:")]


def test_text_escaping() -> None:
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    lines = unfold(render_ics(event(summary="Pay; now, please", uid="k;1,2")))
    assert "SUMMARY:Pay\\; now\\, please" in lines and "UID:k\\;1\\,2" in lines


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    raw = render_ics(event(description="款项" * 100, url="https://x.example/" + "a" * 200))
    for physical in raw.split(b"\r\n"):
        assert len(physical) <= 75
        physical.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert "DESCRIPTION:" + "款项" * 100 in unfold(raw)


def test_no_description_or_url() -> None:
    lines = unfold(render_ics(event(description="", url=None)))
    assert not [x for x in lines if x.startswith(("DESCRIPTION", "URL"))]


@given(st.text(min_size=0, max_size=400))
def test_folding_round_trips(text: str) -> None:
    line = "X:" + text.replace("\r", "").replace("\n", "")
    folded = fold_line(line)
    for i, physical in enumerate(folded.split("\r\n")):
        assert len(physical.encode("utf-8")) <= 75
        if i:
            assert physical.startswith(" ")
    assert folded.replace("\r\n ", "") == line

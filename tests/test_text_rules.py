"""The small rules the conversations rely on: text handling, deadlines, vagueness, splitting."""

from __future__ import annotations

import unicodedata

import pytest

from bot.channels.split import split_text
from bot.config import ConfigError, load
from handlers import deadlines
from handlers.engine import match_key, parse_command
from handlers.text import clean, fmt, fold, number_vi, strip_html
from handlers.vagueness import vagueness, work_kind
from models.invites import new_code, normalize_code


def test_fold_and_clean() -> None:
    assert fold("Hoàn Thành") == fold("hoan thanh") == "hoan thanh"
    assert fold("ĐẢNG VIÊN") == "dang vien"
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn Đức")
    assert clean(nfd) == "Nguyễn Văn Đức" and unicodedata.is_normalized("NFC", clean(nfd))
    assert clean("  a\u200bb\u202e c\x00  \n\n d ") == "ab c\n\nd"
    assert match_key("✅ Tiếp tục ➡") == match_key("tiep tuc") == "tiep tuc"


def test_fmt_escapes_values_but_not_the_template() -> None:
    assert fmt("<b>{x}</b>", x="<i>&") == "<b>&lt;i&gt;&amp;</b>"
    assert strip_html(fmt("<b>{x}</b>", x="a < b & c")) == "a < b & c"
    assert number_vi(3554) == "3.554"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/dangky", ("dangky", "")),
        ("/ĐăngKý@lamtheo_bot", ("dangky", "")),
        ("/start K7M4Q2XP", ("start", "K7M4Q2XP")),
        ("Hủy", ("huy", "")),
        ("huỷ", ("huy", "")),
        ("xin chào", None),
    ],
)
def test_parse_command(text: str, expected: tuple[str, str] | None) -> None:
    import handlers.core  # noqa: F401  (registers the commands)

    assert parse_command(clean(text)) == expected


def test_codes() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code) == 8 and any(c.isdigit() for c in code) and not set(code) & set("01OIL")
    assert normalize_code("k7m4 q2xp") == "K7M4Q2XP"
    assert normalize_code("K7M4-Q2XP") == "K7M4Q2XP"
    assert normalize_code("xin chào") is None
    assert normalize_code("XINCHAOO") is None  # no digit: a word, not a code


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("hằng tháng", "monthly"),
        ("Hang thang", "monthly"),
        ("quý 3", "Q3"),
        ("Quý IV", "Q4"),
        ("tháng 6", "M6"),
        ("6/2026", "M6"),
        ("30/9", "2026-09-30"),
        ("30-9-2026", "2026-09-30"),
        ("ngày 1.12.2026", "2026-12-01"),
        ("cả năm", "year"),
        ("31/2", None),
        ("tháng 13", None),
        ("sớm", None),
    ],
)
def test_deadlines(typed: str, code: str | None) -> None:
    assert deadlines.parse(typed, 2026) == code
    if code:
        assert deadlines.describe(code)


def test_vagueness() -> None:
    assert "khẩu hiệu" in (vagueness("Hoàn thành tốt nhiệm vụ được giao", "tốt") or "")
    assert "khẩu hiệu" in (vagueness("Học tập và làm theo Bác", "") or "")
    assert "số lượng" in (vagueness("Giúp đỡ hàng xóm", "khi cần") or "")
    assert vagueness("Phụ đạo học sinh yếu", "4 buổi mỗi tháng") is None
    assert vagueness("Đọc báo Nhân Dân", "mỗi tuần") is None
    assert work_kind("Giáo viên lớp 3A") == "teacher"
    assert work_kind("Hưu trí, nguyên giáo viên") == "teacher"
    assert work_kind("Công an viên") == "security"
    assert work_kind("Nông dân") == "farmer"
    assert work_kind("Kinh doanh tạp hóa") == "general"


def test_split_text_keeps_pieces_within_the_limit_and_well_formed() -> None:
    text = "\n".join(f"<b>Dòng {n}</b> " + "chữ " * 30 for n in range(100))
    pieces = split_text(text, 1000)
    assert all(len(p) <= 1000 for p in pieces) and len(pieces) > 1
    assert all(p.count("<b>") == p.count("</b>") for p in pieces)
    assert "\n".join(pieces).count("Dòng") == 100
    long_line = "&amp; " * 500  # one over-long line: cut between words, never inside &amp;
    pieces = split_text(long_line, 100)
    assert all(len(p) <= 100 and p.count("&") == p.count("&amp;") for p in pieces)
    assert split_text("ngắn", 10) == ["ngắn"]


def test_config_environment_and_errors(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[telegram]\nmode = "webhook"\nwebhook_url = "https://x.example/telegram"\n')
    env = {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "short"}
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        load(cfg, env)
    env["TELEGRAM_WEBHOOK_SECRET"] = "long-enough-secret"
    config = load(cfg, env)
    assert config.telegram.token == "1:abc" and config.telegram.mode == "webhook"
    assert config.database_url.startswith("sqlite+aiosqlite:///")
    env["LAMTHEO_DATABASE_URL"] = "postgresql+asyncpg://u@h/db"
    assert load(cfg, env).database_url == "postgresql+asyncpg://u@h/db"
    env["LAMTHEO_DATABASE_URL"] = "mysql://u@h/db"
    with pytest.raises(ConfigError, match="LAMTHEO_DATABASE_URL"):
        load(cfg, env)
    # the shipped config.toml is valid as it is, with no environment at all
    assert load(None, {}).telegram.token is None


def test_reminder_config_is_read_and_checked(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[reminders]\nd3_at = "07:15"\nopen_days = 5\n')
    rule = load(cfg, {}).settings.reminders
    assert (rule.d3_at.hour, rule.d3_at.minute, rule.open_days, rule.d1_days) == (7, 15, 5, 1)
    cfg.write_text('[reminders]\nd3_at = "25:00"\n')
    with pytest.raises(ConfigError, match=r"\[reminders\]"):
        load(cfg, {})
    cfg.write_text("[reminders]\nsnooze = 3\n")
    with pytest.raises(ConfigError, match="snooze"):
        load(cfg, {})


def test_the_digest_chart_renders_a_png_with_vietnamese_labels() -> None:
    from documents.charts import bar_chart_png, chart_as_text

    chart = {"title": "Tự đánh giá tháng 12/2026", "bars": [["Đã nộp", 9], ["Chưa nộp", 3]]}
    png = bar_chart_png(chart)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    assert chart_as_text(chart) == "Tự đánh giá tháng 12/2026: Đã nộp: 9 · Chưa nộp: 3"


def test_every_wording_in_texts_is_defined_once() -> None:
    """A second `NAME = …` in handlers/texts.py silently replaces the first wording wherever it
    is used (it happened: a new ASSESS_CLOSED replaced the meeting-has-begun message)."""
    import ast
    from collections import Counter
    from pathlib import Path

    import handlers.texts

    tree = ast.parse(Path(handlers.texts.__file__).read_text(encoding="utf-8"))
    names = Counter(
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    )
    assert len(names) > 100
    assert [name for name, n in names.items() if n > 1] == []

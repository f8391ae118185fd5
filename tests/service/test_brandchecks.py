"""The branding settings' system checks: what `sealbox check` tells an operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core import checks

from tests.branded import HOSTILE_SVG, brand


def found(tag: str = "compatibility") -> list[tuple[str, str]]:
    return [(e.id, e.msg) for e in checks.run_checks(tags=[tag]) if e.id.startswith("sealbox.E2")]


def hints(tag: str = "compatibility") -> list[str]:
    return [e.hint for e in checks.run_checks(tags=[tag]) if e.id.startswith("sealbox.E2")]


def test_a_full_and_readable_brand_passes(settings: Any, tmp_path: Path) -> None:
    brand(settings, tmp_path)
    settings.TEMPLATES_DIR = tmp_path
    assert found() == [] and found("templates") == []


def test_an_svg_logo_passes(settings: Any, tmp_path: Path) -> None:
    brand(settings, tmp_path, HOSTILE_SVG, "logo.svg")
    assert found() == []


def test_it_names_a_missing_logo(settings: Any, tmp_path: Path) -> None:
    settings.ORG_LOGO = tmp_path / "nowhere.png"
    assert found() == [
        (
            "sealbox.E201",
            f"SEALBOX_ORG_LOGO: cannot read {tmp_path}/nowhere.png: No such file or directory.",
        )
    ]


def test_it_names_a_logo_it_cannot_read(settings: Any, tmp_path: Path) -> None:
    settings.ORG_LOGO = tmp_path  # a directory: unreadable as a file, even for root
    assert found() == [
        ("sealbox.E201", f"SEALBOX_ORG_LOGO: cannot read {tmp_path}: Is a directory.")
    ]


def test_it_judges_a_logo_by_its_content_not_its_name(settings: Any, tmp_path: Path) -> None:
    brand(settings, tmp_path, b"GIF89a not a png", "logo.png")
    assert found() == [
        (
            "sealbox.E202",
            f"SEALBOX_ORG_LOGO: {tmp_path}/logo.png is neither a PNG nor an SVG image.",
        )
    ]
    # XML, but not an SVG.
    brand(settings, tmp_path, b'<html xmlns="http://www.w3.org/1999/xhtml"/>', "logo.svg")
    assert [i for i, _ in found()] == ["sealbox.E202"]
    # An SVG's name on a file that is not even XML.
    brand(settings, tmp_path, b"<svg unclosed", "logo.svg")
    assert [i for i, _ in found()] == ["sealbox.E202"]


def test_it_refuses_a_logo_over_512_kib(settings: Any, tmp_path: Path) -> None:
    brand(settings, tmp_path, b"\x89PNG\r\n\x1a\n" + b"\0" * (512 * 1024))
    assert found() == [
        ("sealbox.E203", f"SEALBOX_ORG_LOGO: {tmp_path}/logo.png is 512 KiB, more than 512 KiB.")
    ]


def test_it_names_a_malformed_colour(settings: Any) -> None:
    settings.BRAND_COLOR = "blue"
    assert found() == [("sealbox.E204", "SEALBOX_BRAND_COLOR: 'blue' is not a colour.")]
    settings.BRAND_COLOR = "#123456,#abcdef,#000000"
    assert [i for i, _ in found()] == ["sealbox.E204"]


def test_one_colour_for_both_modes_fails_in_dark_mode_with_its_ratio(settings: Any) -> None:
    settings.BRAND_COLOR = "#0b5cad"
    assert found() == [
        (
            "sealbox.E205",
            "SEALBOX_BRAND_COLOR: in dark mode, #0b5cad has a contrast of 2.3:1 against the "
            "dark header and notice background #1e2227, needs 4.5:1 (WCAG AA).",
        )
    ]
    assert '"#light,#dark"' in hints()[0]


def test_a_pale_light_mode_colour_fails_against_the_page(settings: Any) -> None:
    settings.BRAND_COLOR = "#4a90e2,#6cb2ff"  # a popular blue: 3.3:1 on white
    [(ident, msg)] = found()
    assert ident == "sealbox.E205"
    assert msg.startswith("SEALBOX_BRAND_COLOR: in light mode, #4a90e2 has a contrast of 3.")
    assert msg.endswith("needs 4.5:1 (WCAG AA).")


def test_a_dark_mode_colour_too_dark_for_the_dark_page_fails(settings: Any) -> None:
    settings.BRAND_COLOR = "#0b5cad,#1a4f8a"
    assert [msg.split(",")[0] for _, msg in found()] == ["SEALBOX_BRAND_COLOR: in dark mode"]


def test_a_light_and_a_dark_colour_that_read_pass(settings: Any) -> None:
    settings.BRAND_COLOR = "#0B5CAD, #6cb2ff"
    assert found() == []


def test_it_names_each_contact_it_cannot_read(settings: Any) -> None:
    settings.SUPPORT_CONTACT = ["help@bank.example", "call us", "+49 30 1234", "ftp://x"]
    assert [msg for _, msg in found()] == [
        "SEALBOX_SUPPORT_CONTACT: 'call us' is not an email address, phone number or web address.",
        "SEALBOX_SUPPORT_CONTACT: 'ftp://x' is not an email address, phone number or web address.",
    ]


def test_privacy_and_imprint_must_be_web_addresses(settings: Any) -> None:
    settings.PRIVACY_URL = "javascript:alert(1)"
    settings.IMPRINT_URL = "bank.example/imprint"
    assert found() == [
        (
            "sealbox.E207",
            "SEALBOX_PRIVACY_URL: 'javascript:alert(1)' is not an http or https address.",
        ),
        (
            "sealbox.E207",
            "SEALBOX_IMPRINT_URL: 'bank.example/imprint' is not an http or https address.",
        ),
    ]


def test_the_templates_dir_must_be_a_readable_directory(settings: Any, tmp_path: Path) -> None:
    settings.TEMPLATES_DIR = tmp_path / "missing"
    assert found("templates") == [
        (
            "sealbox.E208",
            f"SEALBOX_TEMPLATES_DIR: {tmp_path}/missing is not a directory this user can read.",
        )
    ]
    (tmp_path / "file").write_text("")
    settings.TEMPLATES_DIR = tmp_path / "file"
    assert [i for i, _ in found("templates")] == ["sealbox.E208"]


def test_the_hint_names_the_nearest_colours_that_read_and_they_pass(settings: Any) -> None:
    settings.BRAND_COLOR = "#4a90e2"  # one colour: 3.3:1 on white, fine on the dark page
    [hint] = sorted(set(hints()))
    suggested = hint.split('The nearest that read: "', 1)[1].split('"', 1)[0]

    settings.BRAND_COLOR = suggested
    assert found() == []
    light, dark = suggested.split(",")
    assert light != "#4a90e2" and dark == "#4a90e2"  # it reads on the dark page as it is


def test_a_name_with_a_line_break_is_an_error_not_a_broken_from(settings: Any) -> None:
    settings.ORG_NAME = "Example Bank\nBcc: everyone@example.org"

    [(ident, msg)] = found()

    assert ident == "sealbox.E209"
    assert msg.startswith("SEALBOX_ORG_NAME: 'Example Bank\\nBcc: everyone@example.org' holds")

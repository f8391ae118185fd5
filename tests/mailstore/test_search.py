"""The matching rule of search (mailstore/search.py), without a database."""

from __future__ import annotations

from sealbox.mailstore import search


def test_a_query_is_split_into_normalised_words_each_once() -> None:
    # "REPORT" in fullwidth letters is NFKC-normalised to plain ones.
    assert search.words("  Größe  GRÖSSE \uff32\uff25\uff30\uff2f\uff32\uff34 ") == [
        "grösse",
        "report",
    ]


def test_a_query_has_a_bounded_number_of_words_and_characters() -> None:
    assert len(search.words(" ".join(f"w{i}" for i in range(50)))) == search.MAX_WORDS
    assert search.words("a" * 5000) == ["a" * search.MAX_QUERY]


def test_every_word_must_be_found_and_no_word_spans_two_fields() -> None:
    values = {"subject": "Quarterly", "from_name": "report", "attachment_names": "a.pdf\nb.doc"}

    assert search.matches(search.words("QUARTERLY b.doc"), values)
    assert not search.matches(search.words("quarterly nothing"), values)
    assert not search.matches(search.words("reportquarterly"), values)
    assert not search.matches(search.words("pdf b.doc a.pdfb"), values)

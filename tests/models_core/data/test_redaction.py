"""The erasure's matcher finds a person's traces however a store keeps them, and nothing else."""

from __future__ import annotations

from models_core.data.quality import PREVIEW_CHARS, duplicates_report
from models_core.data.redaction import Traces, drop_terms, flatten, redact_json, redact_string, snippet
from models_core.fairness.counterfactual import counterfactual_report

TEXT = ("Mr Zebulon Quarterfield is a nurse with 9 years of experience. He led a ward rota. "
        "Contact zq.ex@example.org or 020 7946 0958.")
TRACES = Traces.build(identifiers=["Zebulon Quarterfield", "zq.ex@example.org", "020 7946 0958", "S000001"],
                      texts=[TEXT], words=["Zebulon", "Quarterfield"], terms=["quarterfieldshire"])


def test_a_datasheet_preview_is_found_though_it_was_cut_and_pii_redacted():
    rows = [{"text": TEXT, "hired": "yes"}] * 2 + [{"text": "Someone else entirely, a teacher.", "hired": "no"}]
    report = duplicates_report(rows, "text", ["yes", "yes", "no"])
    preview = report["exact"]["largest"][0]["preview"]
    assert len(preview) == PREVIEW_CHARS and "<EMAIL>" not in TEXT[:PREVIEW_CHARS]
    cleaned, n = redact_json(report, TRACES, "[erased]")
    assert n >= 2 and cleaned["exact"]["largest"][0]["preview"] == "[erased]"
    assert cleaned["exact"]["largest"][0]["rows"] == [0, 1]  # the figures stay


def test_a_redacted_preview_of_a_text_with_an_email_late_in_it_is_still_his():
    long = "x" * 60 + " Zebulon wrote from zq.ex@example.org about the rota and the ward."
    traces = Traces.build(texts=[long])
    from models_core.data.pii import redact_text

    assert redact_string(redact_text(long)[:80], traces, "[erased]") == ("[erased]", 1)


def test_counterfactual_examples_lose_his_identifiers_in_both_texts():
    report = counterfactual_report([TEXT, "She is a teacher."], lambda batch: [[0.4, 0.6]] * len(batch),
                                   word_pairs=[["ms", "mr"]])
    cleaned, _ = redact_json(report, TRACES, "[erased]")
    assert "Quarterfield" not in str(cleaned) and "zq.ex" not in str(cleaned)
    assert cleaned["word_pairs"] == [["ms", "mr"]] and cleaned["groups"] == ["female", "male"]


def test_identifiers_match_whole_words_in_any_case_and_keep_the_rest_of_a_note():
    note = "Call ZEBULON QUARTERFIELD back; S0000012 is someone else, s000001 is him."
    cleaned, n = redact_string(note, TRACES, "[redacted: erasure request ER-1]")
    assert n == 1
    assert cleaned == ("Call [redacted: erasure request ER-1] back; S0000012 is someone else, "
                       "[redacted: erasure request ER-1] is him.")


def test_short_strings_and_other_texts_are_left_alone():
    for other in ("nurse", "He led a ward rota.", "with 9 years", "gender", "S0000012", "a teacher with 9 years"):
        assert redact_string(other, TRACES, "[erased]") == (other, 0)
    assert redact_json({"text_column": "text", "n": 3, "groups": {"male": 2}}, TRACES, "x") == (
        {"text_column": "text", "n": 3, "groups": {"male": 2}}, 0)


def test_dict_keys_are_cleaned_and_two_redacted_keys_do_not_collide():
    cleaned, n = redact_json({"zq.ex@example.org": 1, "Zebulon Quarterfield": 2, "other": 3}, TRACES, "[x]")
    assert n == 2 and sorted(cleaned.values()) == [1, 2, 3] and "other" in cleaned


def test_vocabulary_terms_named_after_him_go_and_others_stay():
    vocabulary = [{"term": "quarterfield", "z": 3.1}, {"term": "quarterfieldshire", "z": 2.0}, {"term": "rota"}]
    kept, n = drop_terms(vocabulary, TRACES)
    assert n == 1 and [t["term"] for t in kept] == ["quarterfield", "rota"]
    cleaned, _ = redact_json(kept, TRACES, "[erased]")
    assert [t["term"] for t in cleaned] == ["[erased]", "rota"]  # his name word, matched whole


def test_the_first_look_finds_a_piece_of_his_text_anywhere_in_a_row():
    row = {"errors": ["row 7: is a nurse with 9 years of experience. He led a ward"], "n": 1}
    assert TRACES.may_occur_in(flatten(row))
    # A first look only: a shared stretch ("of experience") may pass it; redact_string then decides.
    assert not TRACES.may_occur_in(flatten({"texts": ["She teaches chemistry in Leeds."], "k": 2}))
    assert redact_json({"t": "She is a teacher with 4 years of experience."}, TRACES, "x")[1] == 0


def test_a_snippet_masks_everything_but_the_match():
    text = "Referee note: Mr Zebulon Quarterfield (zq.ex@example.org) vouches for her."
    shown = snippet(text, "zebulon quarterfield")
    assert "«Zebulon Quarterfield»" in shown and "vouches" not in shown and "zq" not in shown
    assert TRACES.mentions(text) == ["Zebulon Quarterfield", "zq.ex@example.org"]

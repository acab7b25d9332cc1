"""The crisis-language detector: the public example set, tricky cases, and its contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from intake_service.cli import main
from intake_service.domain.triage import crisis, crisis_eval
from intake_service.domain.triage.crisis_rules import IDIOMS, RULES, WORDS

EXAMPLES = Path(__file__).with_name("crisis_examples.toml")


def test_public_example_set_has_full_recall_and_precision_of_at_least_0_8() -> None:
    crisis_messages, ordinary = crisis_eval.read_examples(EXAMPLES)
    assert len(crisis_messages) >= 120 and len(ordinary) >= 120

    result = crisis_eval.evaluate(crisis_messages, ordinary)

    print(f"\nrecall {result.recall:.2f} precision {result.precision:.2f}")
    assert result.missed == ()
    assert result.recall == 1.0
    assert result.precision >= 0.8


def test_crisis_eval_command_prints_recall_and_precision() -> None:
    result = CliRunner().invoke(main, ["triage", "crisis-eval", "--examples", str(EXAMPLES)])

    assert result.exit_code == 0, result.output
    assert "recall    1.00" in result.output
    assert "precision" in result.output
    assert crisis.RULES_VERSION in result.output


def test_crisis_eval_command_refuses_a_bad_file_with_a_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("crisis = 3\n")

    result = CliRunner().invoke(main, ["triage", "crisis-eval", "--examples", str(bad)])

    assert result.exit_code == 1
    assert "needs `crisis`" in result.output


# (message, flagged, the rule expected among those that matched, or None)
TRICKY = [
    # disguises
    ("i want to k1ll mys3lf", True, "kill_self"),
    ("kil myself", True, "kill_self"),
    ("KIIIILLLL MYSELF", True, "kill_self"),
    ("k i l l   m y s e l f", True, "compact"),
    ("s-u-i-c-i-d-e", True, "suicide_word"),
    ("su1c1dal", True, "suicide_word"),
    ("suicde", True, "suicide_word"),
    ("i want 2 die", True, "want_to_die"),
    ("Suicídio", True, "suicide_word"),
    # slang
    ("kms", True, "kill_self"),
    ("gonna kys", True, "kill_self"),
    ("unalive myself", True, "suicide_word"),
    ("sewer slide", True, "suicide_word"),
    # negation never clears a flag
    ("I'm not suicidal but I think about dying", True, "suicide_word"),
    ("I would never kill myself, but I think about it", True, "kill_self"),
    # third person, past attempts, Spanish
    ("my son wants to kill himself", True, "third_person"),
    ("I attempted suicide in 2019", True, "past_attempt"),
    ("me quiero morir", True, "spanish"),
    ("quiero suicidarme", True, "suicide_word"),
    # idioms stay quiet...
    ("this job is killing me", False, None),
    ("I'm dying to know the price", False, None),
    ("drop-dead gorgeous", False, None),
    ("I killed it at work today", False, None),
    ("that dessert is to die for", False, None),
    ("I hurt myself at the gym", False, None),
    ("the office is 5 kms away", False, None),
    ("me muero de risa", False, None),
    # ...without hiding the rest of the message
    ("I'm dying to know how to kill myself", True, "kill_self"),
    ("this job is killing me and I want to die", True, "want_to_die"),
    ("I want to hurt myself at the gym", True, "self_harm"),
    ("I want to die for real", True, "want_to_die"),
    # ordinary words near alarming ones
    ("I have taken a lot of antidepressants", False, None),
    ("I have a plan through Aetna", False, None),
    ("I want to stop smoking", False, None),
    ("I won't be here tomorrow, call Friday", False, None),
]


@pytest.mark.parametrize(("text", "flagged", "rule"), TRICKY)
def test_tricky_messages(text: str, flagged: bool, rule: str | None) -> None:
    result = crisis.detect(text)

    assert result.flagged is flagged, [(m.rule, m.words) for m in result.matches]
    if rule is not None:
        assert rule in result.rules


def test_every_flag_names_its_rule_the_words_as_typed_and_the_version() -> None:
    text = "Hi. Honestly I want to K1LL MYSELF tonight."

    result = crisis.detect(text)

    assert result.version == crisis.RULES_VERSION
    match = next(m for m in result.matches if m.rule == "kill_self")
    assert match.category == "intent"
    assert match.words == "K1LL MYSELF"
    assert text[match.start : match.end] == match.words


def test_a_denial_before_the_words_is_noted_but_still_flags() -> None:
    result = crisis.detect("I'm not suicidal")

    assert result.flagged
    assert result.matches[0].negated is True


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t", "👍", "x" * 5000, "1 2 3 4 5 6"])
def test_empty_or_odd_text_never_raises_and_is_not_flagged(text: str | None) -> None:
    assert crisis.detect(text).flagged is False


def test_the_sms_webhook_contract_detect_takes_the_body_and_says_urgent_or_not() -> None:
    """The inbound-SMS webhook (a later issue) must call crisis.detect(body) on every text
    and treat `.flagged` as the urgent path; `.rule` and `.words` are what it stores."""
    result = crisis.detect("cant do this anymore, goodbye everyone")

    assert bool(result) is True and result.flagged is True
    assert result.rule in ("goodbye", "hopelessness")
    assert result.words
    assert crisis.detect("Yes, Tuesday at 3 works").flagged is False


# --- needles: detect skips a phrase none of whose needles is in the message ------------------


def _said_plainly(phrase: str) -> str:
    """A message saying the phrase in its first words: gaps and optional words left out."""
    words = []
    for raw in phrase.split():
        if raw == "..." or (raw.startswith("[") and raw.endswith("]")):
            continue
        first = "30" if raw == "##" else raw.removesuffix("*").split("|")[0]
        words.append(WORDS[first[1:-1]][0] if first.startswith("{") else first)
    return " ".join(words)


PHRASES = [(rule, phrase) for rule, (_, phrases) in RULES.items() for phrase in phrases]


def test_each_phrase_said_plainly_is_found_as_when_every_phrase_is_scanned() -> None:
    for rule, phrase in PHRASES:
        text = _said_plainly(phrase)
        everything = crisis.detect(text, every_phrase=True)

        assert rule in everything.rules, (phrase, text)
        assert crisis.detect(text) == everything, (phrase, text)


def test_a_phrases_needles_are_the_spellings_of_a_word_it_cannot_leave_out() -> None:
    assert crisis.needles("[really] want to die") == {"want"}
    assert crisis.needles("... ##") == frozenset()  # nothing required: always scanned
    suicide = crisis.needles("suicide")
    assert {"suicide", "sucide", "suicdie"} <= suicide  # one letter dropped or two swapped
    assert all(len(n) >= 6 for n in suicide)


def _disguised(text: str, data: st.DataObject) -> str:
    """The text as phones and distress type it: a letter dropped or doubled, leet, spaces."""
    chars = list(text)
    for _ in range(data.draw(st.integers(0, 4))):
        if not chars:
            break
        i = data.draw(st.integers(0, len(chars) - 1))
        change = data.draw(st.sampled_from(["drop", "double", "leet", "space", "upper", "swap"]))
        if change == "drop":
            del chars[i]
        elif change == "double":
            chars.insert(i, chars[i])
        elif change == "leet":
            chars[i] = {"i": "1", "e": "3", "o": "0", "a": "@", "s": "$"}.get(chars[i], chars[i])
        elif change == "space":
            chars.insert(i, " ")
        elif change == "upper":
            chars[i] = chars[i].upper()
        elif i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_needles_never_change_what_a_message_is_found_to_say(data: st.DataObject) -> None:
    parts = data.draw(
        st.lists(
            st.one_of(
                st.sampled_from(PHRASES).map(lambda p: _said_plainly(p[1])),
                st.sampled_from(IDIOMS),
                st.sampled_from(["i", "not", "my", "the", "pills", "tonight", "5 kms", "a"]),
                st.text(alphabet="abcdeiklmnorstuy ", max_size=12),
            ),
            max_size=8,
        )
    )
    text = _disguised(" ".join(parts), data)

    assert crisis.detect(text) == crisis.detect(text, every_phrase=True)

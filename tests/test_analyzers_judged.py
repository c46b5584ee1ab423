"""A pass is a judged pass: each check says what code it judged, and an output's verdicts add up
to `pass` only when some check judged code the output wrote and found nothing."""

from __future__ import annotations

import json

import pytest

from redline.analyzers import (
    Verdict,
    default_registry,
    judgement,
    parse_check,
    run_checks,
    verdict_from_dict,
    verdict_to_dict,
)
from redline.transcripts import Message, Text, ToolCall

REGISTRY = default_registry(entry_points=False)

# Every built-in check, in each of the forms that changes what it looks at.
BUILT_IN = [
    "broad-except",
    "python-syntax",
    "python-syntax:blocks",
    "placeholder",
    "test-tampering",
    "regex:pattern=eval\\(",
    "regex:pattern=eval\\(;in=text",
    "regex:pattern=eval\\(;in=all",
    "regex:pattern=timeout=;mode=require",
    "regex:pattern=timeout=;mode=require;in=text",
    "tool:pattern=rm -rf",
    "tool:name=Bash;mode=require",
]
assert {s.split(":")[0] for s in BUILT_IN} == set(REGISTRY.names())

CLEAN = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"


def said(text: str) -> Message:
    return Message("assistant", (Text(text),))


def called(name: str, **arguments: object) -> ToolCall:
    return ToolCall(f"call-{name}", name, json.dumps(arguments))


def judge(spec: str, output: Message) -> tuple[Verdict, str]:
    check = parse_check(spec, REGISTRY)
    (verdict,) = run_checks([check], output)
    return verdict, judgement([verdict], output)


@pytest.mark.parametrize("spec", BUILT_IN)
def test_an_answer_that_only_asks_a_question_is_no_attempt_under_every_built_in_check(
    spec: str,
) -> None:
    question = said("Before I write this, which format are the config files in?")
    verdict, outcome = judge(spec, question)
    assert (verdict.passed, verdict.judged, outcome) == (True, (), "no_attempt")


@pytest.mark.parametrize("spec", BUILT_IN)
def test_an_answer_that_only_reads_is_no_attempt_under_every_built_in_check(spec: str) -> None:
    reads = Message(
        "assistant",
        (Text("Let me look first."), called("Read", file_path="/repo/config.py")),
    )
    verdict, outcome = judge(spec, reads)
    assert (verdict.judged, outcome) == ((), "no_attempt")


@pytest.mark.parametrize(
    "spec", [s for s in BUILT_IN if not s.startswith("tool") and "in=text" not in s]
)
def test_every_check_of_code_judges_a_file_the_answer_writes(spec: str) -> None:
    writes = Message(
        "assistant",
        (called("Write", file_path="/repo/config.py", content=CLEAN + "timeout=3\n"),),
    )
    verdict, outcome = judge(spec, writes)
    assert verdict.judged == ("/repo/config.py",)
    assert outcome == "pass"


def test_a_check_of_the_text_judges_the_code_the_text_holds_not_a_tool_call() -> None:
    fenced = said(f"Here it is:\n\n```python\n{CLEAN}```\n")
    assert judge("regex:pattern=eval\\(;in=text", fenced)[0].judged == ("<block 1>",)
    through_a_tool = Message("assistant", (called("Write", file_path="a.py", content=CLEAN),))
    assert judge("regex:pattern=eval\\(;in=text", through_a_tool)[1] == "no_attempt"


def test_a_forbidden_match_in_a_question_is_a_failure_not_a_no_attempt() -> None:
    apology = said("Sorry, I cannot eval(this) for you.")
    verdict, outcome = judge("regex:pattern=eval\\(;in=text", apology)
    assert (verdict.passed, outcome) == (False, "fail")


def test_a_required_pattern_is_asked_of_code_the_answer_wrote() -> None:
    writes = Message("assistant", (called("Write", file_path="a.py", content=CLEAN),))
    verdict, outcome = judge("regex:pattern=timeout=;mode=require", writes)
    assert (verdict.passed, outcome) == (False, "fail")


def test_the_tool_check_judges_commands_and_edits_not_reads() -> None:
    runs = Message(
        "assistant",
        (called("Read", file_path="a.py"), called("Bash", command="pytest -q")),
    )
    verdict, outcome = judge("tool:pattern=rm -rf", runs)
    assert (verdict.judged, outcome) == (("<Bash call 2>",), "pass")
    assert judge("tool:name=Bash;mode=require", runs)[1] == "pass"


def test_a_required_call_missing_from_an_answer_that_edits_is_a_failure() -> None:
    edits = Message("assistant", (called("Write", file_path="a.py", content=CLEAN),))
    verdict, outcome = judge("tool:name=Bash;pattern=pytest;mode=require", edits)
    assert (verdict.passed, outcome) == (False, "fail")


def test_python_checks_do_not_judge_code_in_another_language() -> None:
    javascript = Message(
        "assistant",
        (called("Write", file_path="src/app.js", content="try { run() } catch (e) {}\n"),),
    )
    assert judge("broad-except", javascript)[1] == "no_attempt"
    assert judge("placeholder", javascript)[1] == "pass"


def test_a_plugin_that_does_not_say_what_it_judged_counts_when_the_answer_wrote_code() -> None:
    silent = Verdict(True)
    assert silent.judged is None
    writes = Message("assistant", (called("Write", file_path="a.py", content=CLEAN),))
    assert judgement([silent], writes) == "pass"
    assert judgement([silent], said("Which format?")) == "no_attempt"


def test_one_check_that_judged_code_makes_the_pass_whatever_the_others_looked_at() -> None:
    writes = Message("assistant", (called("Write", file_path="src/app.js", content="x = 1\n"),))
    checks = [parse_check(s, REGISTRY) for s in ("broad-except", "placeholder")]
    verdicts = run_checks(checks, writes)
    assert [v.judged for v in verdicts] == [(), ("src/app.js",)]
    assert judgement(verdicts, writes) == "pass"


def test_a_stored_verdict_from_before_judged_was_said_is_read_as_not_saying() -> None:
    stored = {"check": "broad-except", "passed": True, "findings": []}
    verdict = verdict_from_dict(stored)
    assert verdict.judged is None
    assert judgement([verdict], said("Which format?")) == "no_attempt"
    again = verdict_to_dict("broad-except", verdict_from_dict(verdict_to_dict("x", verdict)))
    assert again == {**stored, "judged": None}

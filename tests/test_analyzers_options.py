"""`--check NAME[:OPTIONS]`: a regex with commas, colons, spaces and semicolons can be written."""

from __future__ import annotations

import re

import pytest

from redline.analyzers import Pattern, parse_check
from redline.errors import RedlineError


def pattern(spec: str) -> str:
    value = parse_check(spec).options["pattern"]
    assert isinstance(value, Pattern)
    return value.pattern


def test_defaults_fill_every_option() -> None:
    assert parse_check("broad-except").options == {"allow-logging": False}
    assert parse_check("regex:pattern=x").options["mode"] == "forbid"


def test_a_value_keeps_commas_colons_spaces_and_equals() -> None:
    assert (
        pattern("regex:pattern=except (ValueError, KeyError): pass")
        == "except (ValueError, KeyError): pass"
    )
    assert pattern("regex:pattern=timeout=None, retries=3") == "timeout=None, retries=3"


def test_pairs_split_on_semicolons_and_escaped_ones_stay() -> None:
    check = parse_check(r"regex:pattern=a\;b;mode=require;in=text")
    assert (pattern(r"regex:pattern=a\;b"), check.options["mode"], check.options["in"]) == (
        "a;b",
        "require",
        "text",
    )


def test_other_backslashes_reach_the_regex_untouched() -> None:
    assert pattern(r"regex:pattern=\bos\.system\(") == r"\bos\.system\("


def test_json_options() -> None:
    check = parse_check('regex:{"pattern": "a; b: c, d", "mode": "require"}')
    assert check.options["pattern"].pattern == "a; b: c, d" and check.options["mode"] == "require"
    assert parse_check('broad-except:{"allow_logging": true}').options["allow-logging"] is True


def test_spaces_around_keys_and_non_text_values_are_ignored() -> None:
    check = parse_check("regex:pattern=x; mode = require ; in = text")
    assert (check.options["mode"], check.options["in"]) == ("require", "text")
    assert parse_check("broad-except: allow-logging = yes ").options["allow-logging"] is True
    assert pattern("regex:pattern= x ;mode=forbid") == " x ", "text and regex values are verbatim"


def test_a_bare_flag_means_true_and_bools_read_words() -> None:
    assert parse_check("broad-except:allow-logging").options["allow-logging"] is True
    assert parse_check("broad-except:allow_logging=no").options["allow-logging"] is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "broad-except:nope=1",
            "unknown option 'nope' for check 'broad-except'; its options: allow-logging",
        ),
        ("broad-except:allow-logging=maybe", "is true or false"),
        ("regex", "needs option 'pattern'"),
        ("regex:pattern=(", "not a valid regular expression"),
        ("regex:pattern", "needs a value"),
        ("regex:pattern=x;mode=sometimes", "is one of forbid, require"),
        ('regex:{"pattern": 3}', "is text, not 3"),
        ("regex:{bad json", "not valid JSON"),
        ("regex:[1]", "unknown option '[1]'"),
        ('regex:["x"]', "unknown option"),
        (":x", "bad check"),
        ("regex:pattern=a;pattern=b", "option 'pattern' of check 'regex' is given twice"),
        ("broad-except:allow-logging;allow_logging=no", "'allow-logging' of check"),
        ('regex:{"pattern": "a", "pattern": "b"}', "is given twice"),
        ("no-such-check", "unknown check 'no-such-check'"),
    ],
)
def test_usage_errors_say_what_to_do(spec: str, message: str) -> None:
    with pytest.raises(RedlineError, match=re.escape(message)):
        parse_check(spec)

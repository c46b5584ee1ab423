"""Codex `apply_patch` in its three forms (custom tool, function tool, shell command), and the
Responses API's built-in `apply_patch_call` (docs/wire-formats.md §2.2)."""

from __future__ import annotations

import json

from redline.analyzers import Edit, extract
from redline.transcripts import wire
from redline.transcripts.model import Message
from tests.corpus import assistant, call

PATCH = """*** Begin Patch
*** Add File: src/greet.py
+def greet(name):
+    return f"hello {name}"
*** Update File: src/app.py
@@ def main():
-    print("hi")
+    print(greet("world"))
*** Delete File: src/old.py
*** End Patch
"""

EXPECTED = (
    Edit(
        "src/greet.py",
        "",
        'def greet(name):\n    return f"hello {name}"\n',
        "python",
        "write",
        origin="apply_patch",
    ),
    Edit(
        "src/app.py", '    print("hi")', '    print(greet("world"))', "python", origin="apply_patch"
    ),
    Edit("src/old.py", "", "", "python", "delete", origin="apply_patch"),
)


def responses(*output: dict[str, object]) -> Message:
    body = {
        "id": "resp_68af",
        "object": "response",
        "status": "completed",
        "model": "gpt-5-codex",
        "output": [{"type": "reasoning", "id": "rs_1", "summary": []}, *output],
        "usage": {"input_tokens": 9000, "output_tokens": 300, "total_tokens": 9300},
    }
    return wire.get("openai-responses").parse_response(body).message


def test_custom_tool_call_with_the_raw_patch() -> None:
    message = responses(
        {
            "type": "custom_tool_call",
            "id": "ctc_1",
            "call_id": "call_1",
            "name": "apply_patch",
            "input": PATCH,
            "status": "completed",
        }
    )
    assert extract(message).edits == EXPECTED


def test_function_tool_with_input_argument() -> None:
    message = responses(
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "apply_patch",
            "arguments": json.dumps({"input": PATCH}),
            "status": "completed",
        }
    )
    assert extract(message).edits == EXPECTED


def test_exec_command_heredoc_as_codex_0_171_sends_it() -> None:
    cmd = f"apply_patch <<'EOF'\n{PATCH}EOF\n"
    message = responses(
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "exec_command",
            "arguments": json.dumps({"cmd": cmd, "workdir": "/repo", "yield_time_ms": 10000}),
            "status": "completed",
        }
    )
    assert [(e.path, e.kind) for e in extract(message).edits] == [
        (e.path, e.kind) for e in EXPECTED
    ]


def test_shell_argv_forms() -> None:
    argv = call("shell", {"command": ["apply_patch", PATCH], "workdir": "/repo"})
    bash = call("shell", {"command": ["bash", "-lc", f"apply_patch <<'PATCH'\n{PATCH}PATCH"]})
    assert extract(assistant(argv)).edits == EXPECTED
    assert [e.after for e in extract(assistant(bash)).edits] == [e.after for e in EXPECTED]


def test_opencode_and_roo_patch_argument_names() -> None:
    for key in ("patchText", "patch"):
        assert extract(assistant(call("apply_patch", {key: PATCH}))).edits == EXPECTED


def test_cline_gpt5_variant_wraps_the_patch_in_a_bash_heredoc() -> None:
    wrapped = f'%%bash\napply_patch <<"EOF"\n{PATCH}EOF'
    edits = extract(
        assistant(call("apply_patch", {"input": wrapped, "task_progress": "- [x] x"}))
    ).edits
    assert edits == EXPECTED


def test_builtin_apply_patch_call_items() -> None:
    message = responses(
        {
            "type": "apply_patch_call",
            "id": "apc_1",
            "call_id": "call_9",
            "status": "completed",
            "operation": {"type": "create_file", "path": "lib/x.py", "diff": "+x = 1\n+y = 2\n"},
        },
        {
            "type": "apply_patch_call",
            "id": "apc_2",
            "call_id": "call_10",
            "status": "completed",
            "operation": {
                "type": "update_file",
                "path": "lib/y.py",
                "diff": "@@\n-a = 1\n+a = 2\n",
            },
        },
        {
            "type": "apply_patch_call",
            "id": "apc_3",
            "call_id": "call_11",
            "status": "completed",
            "operation": {"type": "delete_file", "path": "lib/z.py"},
        },
    )
    edits = extract(message).edits
    assert [(e.path, e.kind, e.before, e.after) for e in edits] == [
        ("lib/x.py", "write", "", "x = 1\ny = 2\n"),
        ("lib/y.py", "replace", "a = 1", "a = 2"),
        ("lib/z.py", "delete", "", ""),
    ]


def test_update_with_move_several_hunks_and_environment_id() -> None:
    patch = (
        "*** Begin Patch\n*** Environment ID: env_1\n*** Update File: a.py\n*** Move to: b.py\n"
        "@@ class A:\n     def f(self):\n-        return 1\n+        return 2\n"
        "@@ def g():\n-    pass\n+    return None\n*** End of File\n*** End Patch"
    )
    edits = extract(assistant(call("apply_patch", patch, kind="custom"))).edits
    assert [(e.path, e.before, e.after) for e in edits] == [
        ("b.py", "    def f(self):\n        return 1", "    def f(self):\n        return 2"),
        ("b.py", "    pass", "    return None"),
    ]


def test_blank_context_lines_without_their_space_are_kept() -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n x = 1\n\n-y = 2\n+y = 3\n*** End Patch\n"
    (edit,) = extract(assistant(call("apply_patch", patch, kind="custom"))).edits
    assert (edit.before, edit.after) == ("x = 1\n\ny = 2", "x = 1\n\ny = 3")


def test_a_patch_cut_short_still_yields_its_complete_sections() -> None:
    patch = "*** Begin Patch\n*** Add File: a.py\n+x = 1\n"
    (edit,) = extract(assistant(call("apply_patch", patch, kind="custom"))).edits
    assert edit.after == "x = 1\n"


def test_malformed_section_is_unparsed_and_others_survive() -> None:
    patch = (
        "*** Begin Patch\n*** Update File: bad.py\n@@\n-a\nthis line has no prefix\n+b\n"
        "*** Add File: good.py\n+ok = True\n*** End Patch\n"
    )
    found = extract(assistant(call("apply_patch", patch, kind="custom")))
    assert [e.path for e in found.edits] == ["good.py"]
    assert [u.path for u in found.unparsed] == ["bad.py"]
    assert "does not start with" in found.unparsed[0].reason


def test_apply_patch_without_envelope_is_unparsed() -> None:
    found = extract(assistant(call("apply_patch", "diff --git a b", kind="custom")))
    assert found.edits == () and len(found.unparsed) == 1

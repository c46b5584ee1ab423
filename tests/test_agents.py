"""The agents module answers every question about a coding agent: where its rules file sits, what
it injects into a conversation, what each of its tools does, how its session started and how it
shapes a tool's result. The texts are the agents' own, as observed (docs/wire-formats.md)."""

from __future__ import annotations

import json

import pytest

from redline.analyzers import extract
from redline.transcripts import Message, Request, Text, Tool, ToolCall, agents
from tests.agents import (
    AGENTS_BLOCK,
    AGENTS_MD,
    CLAUDE_ENVIRONMENT,
    CLAUDE_GIT_STATUS,
    CLAUDE_INTERRUPTED,
    CLAUDE_MD,
    CLAUDE_REJECTED,
    CLAUDE_REJECTED_WITH_REASON,
    CLAUDE_REMINDER,
    CODEX_REJECTED,
    CODEX_TURN_ABORTED,
    ENVIRONMENT_CONTEXT,
    codex_patch,
)


def request(*texts: str, system: str | None = None, tools: tuple[str, ...] = ()) -> Request:
    return Request(
        "m",
        (Message("user", tuple(Text(t) for t in texts)),),
        system=None if system is None else (Text(system),),
        tools=tuple(Tool(name) for name in tools) or None,
    )


def call(name: str, arguments: object, kind: str = "function") -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall("c1", name, raw, kind)


# -- the rules file --------------------------------------------------------------------------------


def test_claude_codes_claude_md_is_found_with_its_path() -> None:
    (found,) = agents.rules_files(request(CLAUDE_REMINDER, "Fix it."))
    assert (found.agent, found.path, found.text, found.project) == (
        "claude-code",
        "/repo/CLAUDE.md",
        CLAUDE_MD,
        True,
    )


def test_codexs_agents_md_is_found_in_the_folder_it_names() -> None:
    (found,) = agents.rules_files(request(AGENTS_BLOCK, ENVIRONMENT_CONTEXT))
    assert (found.agent, found.path, found.text) == ("codex", "/repo/AGENTS.md", AGENTS_MD)


def test_replacing_the_rules_keeps_the_agents_framing() -> None:
    replaced, count = agents.replace_rules(request(CLAUDE_REMINDER, AGENTS_BLOCK), "Be strict.")
    texts = [p.text for p in replaced.messages[0].parts if isinstance(p, Text)]
    assert count == 2
    assert texts[0] == CLAUDE_REMINDER.replace(CLAUDE_MD, "Be strict.")
    assert texts[1] == AGENTS_BLOCK.replace(AGENTS_MD, "Be strict.")


def test_a_users_private_claude_md_is_found_but_never_replaced() -> None:
    private = (
        "<system-reminder>\nContents of /home/u/.claude/CLAUDE.md (user's private global "
        "instructions for all projects):\n\nUse tabs.\n</system-reminder>"
    )
    (found,) = agents.rules_files(request(private))
    assert (found.text, found.project) == ("Use tabs.", False)
    assert agents.replace_rules(request(private), "Be strict.")[1] == 0


@pytest.mark.parametrize("name", ["claude-code", "codex"])
def test_an_embedded_rules_file_reads_back_as_written(name: str) -> None:
    agent = agents.get(name)
    (found,) = agents.rules_files(request(agent.embed_rules("/w", "Never catch Exception.")))
    assert (found.agent, found.text) == (name, "Never catch Exception.")


def test_the_rules_file_names_are_the_agents() -> None:
    assert agents.rules_file_names() == ["CLAUDE.md", "AGENTS.md"]


# -- what agents write into the conversation -----------------------------------------------------


@pytest.mark.parametrize("text", [CLAUDE_REMINDER, AGENTS_BLOCK, ENVIRONMENT_CONTEXT])
def test_agent_context_is_boilerplate(text: str) -> None:
    assert agents.is_boilerplate(text)


def test_the_users_request_is_not_boilerplate() -> None:
    assert not agents.is_boilerplate("Add error handling to the config loader.")


def test_injected_blocks_are_stripped_from_a_users_message() -> None:
    text = "<system-reminder>don't do that</system-reminder>Looks good."
    assert agents.strip_injected(text) == "Looks good."
    assert agents.is_injected(CODEX_TURN_ABORTED) and agents.is_injected(CLAUDE_INTERRUPTED)


@pytest.mark.parametrize(
    ("text", "in_result", "signal"),
    [
        (CLAUDE_REJECTED, True, "rejected"),
        (CODEX_REJECTED, True, "rejected"),
        ("aborted", True, "interrupted"),
        (CLAUDE_INTERRUPTED, False, "interrupted"),
        (CODEX_TURN_ABORTED, False, "interrupted"),
        ("aborted because of x", True, None),
    ],
)
def test_the_agents_markers_of_a_stopped_step(text: str, in_result: bool, signal: str) -> None:
    assert agents.marker(text, in_result=in_result) == signal


def test_the_reason_a_user_gives_for_a_refusal() -> None:
    assert agents.rejection_reason(CLAUDE_REJECTED_WITH_REASON + "use pathlib") == "use pathlib"
    assert agents.rejection_reason(CLAUDE_REJECTED) is None


# -- tools ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool_call", "expected"),
    [
        (
            call("Read", {"file_path": "/r/a.py", "offset": 20, "limit": 10}),
            agents.ToolUse("read", "Read", "/r/a.py", 20, 10),
        ),
        (
            call("Glob", {"pattern": "**/*.py", "path": "/r"}),
            agents.ToolUse("list", "Glob", "/r", pattern="**/*.py"),
        ),
        (
            call("Grep", {"pattern": "except", "path": "/r"}),
            agents.ToolUse("search", "Grep", "/r", pattern="except"),
        ),
        (call("LS", {"path": "/r"}), agents.ToolUse("list", "LS", "/r")),
        (
            call("Bash", {"command": "pytest -q"}),
            agents.ToolUse("command", "Bash", command="pytest -q"),
        ),
        (
            call("read_file", {"path": "a.py", "start_line": 3}),
            agents.ToolUse("read", "read_file", "a.py", 3),
        ),
        (
            call(
                "str_replace_editor", {"command": "view", "path": "/w/a.py", "view_range": [5, 9]}
            ),
            agents.ToolUse("read", "str_replace_editor", "/w/a.py", 5),
        ),
        (
            call("list_files", {"path": "src"}),
            agents.ToolUse("list", "list_files", "src"),
        ),
    ],
)
def test_what_reads_lists_searches_and_runs(tool_call: ToolCall, expected: agents.ToolUse) -> None:
    assert agents.tool_use(tool_call) == expected


@pytest.mark.parametrize(
    ("command", "kind", "path", "first", "limit", "pattern"),
    [
        ("sed -n '20,29p' src/m.py", "read", "src/m.py", 20, 10, None),
        ("nl -ba src/m.py", "read", "src/m.py", 1, None, None),
        ("cat src/m.py", "read", "src/m.py", 1, None, None),
        ("rg -n 'except Exception' src", "search", "src", None, None, "except Exception"),
        ("rg --files", "list", None, None, None, None),
        ("ls -la src", "list", "src", None, None, None),
        ("cat a.py | head", "command", None, None, None, None),
    ],
)
def test_codexs_shell_commands(
    command: str,
    kind: str,
    path: str | None,
    first: int | None,
    limit: int | None,
    pattern: str | None,
) -> None:
    use = agents.tool_use(call("exec_command", {"cmd": command, "workdir": "/repo"}))
    assert (use.kind, use.path, use.first_line, use.limit, use.pattern) == (
        kind,
        path,
        first,
        limit,
        pattern,
    )
    assert (use.command, use.workdir) == (command, "/repo")


def test_an_argv_shell_command_is_its_script() -> None:
    use = agents.tool_use(call("shell", {"command": ["bash", "-lc", "cat src/n.py"]}))
    assert (use.kind, use.path, use.command) == ("read", "src/n.py", "cat src/n.py")


def test_a_patch_through_codexs_shell_is_an_edit() -> None:
    use = agents.tool_use(call("exec_command", codex_patch("x = 1\n")))
    assert (use.kind, use.form) == ("edit", "patch")
    assert use.new_text is not None and "*** Add File: config.py" in use.new_text


def test_codexs_apply_patch_tool_as_custom_and_as_function() -> None:
    patch = "*** Begin Patch\n*** Add File: a.py\n+x = 1\n*** End Patch"
    custom = agents.tool_use(call("apply_patch", patch, kind="custom"))
    function = agents.tool_use(call("apply_patch", {"input": patch}))
    assert custom == function == agents.ToolUse("edit", "apply_patch", form="patch", new_text=patch)


@pytest.mark.parametrize(
    "tool_call",
    [
        call("Write", {"file_path": "/r/a.py", "content": "x = 1\n"}),
        call("Edit", {"file_path": "/r/a.py", "old_string": "x = 0\n", "new_string": "x = 1\n"}),
        call(
            "MultiEdit",
            {"file_path": "/r/a.py", "edits": [{"old_string": "x = 0\n", "new_string": "x = 1\n"}]},
        ),
        call("write_file", {"path": "/r/a.py", "content": "x = 1\n"}),
        call(
            "str_replace_editor",
            {
                "command": "str_replace",
                "path": "/r/a.py",
                "old_str": "x = 0\n",
                "new_str": "x = 1\n",
            },
        ),
    ],
)
def test_an_edits_path_and_new_text_agree_with_extraction(tool_call: ToolCall) -> None:
    use = agents.tool_use(tool_call)
    (edit,) = extract(Message("assistant", (tool_call,))).edits
    new = use.replacements[-1][1] if use.form == "multi" else use.new_text
    assert (use.kind, use.path, new) == ("edit", edit.path, edit.after)


def test_a_tool_no_agent_knows_is_other() -> None:
    assert agents.tool_use(call("ask_question", {"question": "?"})).kind == "other"


# -- the session's start ---------------------------------------------------------------------------


def test_claude_code_states_its_directory_branch_head_and_status() -> None:
    start = agents.session_start(
        request(CLAUDE_REMINDER, CLAUDE_GIT_STATUS, "Fix it.", system=CLAUDE_ENVIRONMENT)
    )
    assert start == agents.SessionStart(
        "claude-code", "/repo", "master", "e264412", ("?? untracked.txt",), ("e264412 init",)
    )


def test_older_claude_code_says_working_directory() -> None:
    start = agents.session_start(
        request("Fix it.", system="Working directory: /home/u/proj\nIs directory a git repo: Yes")
    )
    assert start is not None and (start.cwd, start.head) == ("/home/u/proj", None)


def test_codex_states_its_cwd() -> None:
    start = agents.session_start(request(AGENTS_BLOCK, ENVIRONMENT_CONTEXT, "Fix it."))
    assert start == agents.SessionStart("codex", "/repo")


def test_a_bare_chat_states_nothing() -> None:
    assert agents.session_start(request("Fix it.")) is None


# -- which agent, and how it writes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "agent"),
    [
        (request("Fix it.", tools=("Read", "Write", "Bash")), "claude-code"),
        (request(AGENTS_BLOCK, "Fix it.", tools=("exec_command",)), "codex"),
        (request("Fix it.", system="Act as an expert software developer."), "aider"),
        (request("Fix it.", tools=("write_file",)), "chat"),
    ],
)
def test_a_request_is_identified_by_its_agent(made: Request, agent: str) -> None:
    assert agents.identify(made).name == agent


def test_claude_code_writes_absolute_paths_from_its_working_directory() -> None:
    made = request("Fix it.", system=CLAUDE_ENVIRONMENT, tools=("Write",))
    written = agents.write_call(made, made.tools or (), "config.py", "x = 1\n")
    assert written is not None and written.name == "Write"
    assert json.loads(written.arguments) == {"file_path": "/repo/config.py", "content": "x = 1\n"}


def test_codex_writes_a_file_with_a_patch_through_its_shell() -> None:
    made = request(AGENTS_BLOCK, "Fix it.", tools=("exec_command",))
    written = agents.write_call(made, made.tools or (), "config.py", "x = 1\n")
    assert written is not None and written.name == "exec_command"
    (edit,) = extract(Message("assistant", (written,))).edits
    assert (edit.path, edit.after) == ("config.py", "x = 1\n")


def test_no_file_writing_tool_no_call() -> None:
    made = request("Fix it.", tools=("search",))
    assert agents.write_call(made, made.tools or (), "config.py", "x = 1\n") is None


def test_the_session_key_comes_from_the_agents_header() -> None:
    assert agents.session_key([("x-claude-code-session-id", "s1")]) == "claude-code:s1"
    assert (
        agents.session_key([("x-claude-code-session-id", "s1"), ("x-claude-code-agent-id", "a2")])
        == "claude-code:s1/a2"
    )
    assert agents.session_key([("session_id", "s9")]) == "codex:s9"
    assert agents.session_key([("user-agent", "curl")]) is None


# -- tool results -----------------------------------------------------------------------------------


def test_a_read_window_keeps_its_first_line_number() -> None:
    use = agents.ToolUse("read", "read_file", "a.py")
    window = agents.file_window(use, "    40\tx = 1\n    41\ty = 2")
    assert window == agents.FileWindow("a.py", "x = 1\ny = 2\n", 40, True)


def test_system_reminders_and_the_cat_n_header_are_not_file_content() -> None:
    result = "Here's the result of running `cat -n` on /w/a.py:\n     1\ta = 1"
    result += "\n<system-reminder>\nWhenever you read a file...\n</system-reminder>\n"
    use = agents.ToolUse("read", "str_replace_editor", "/w/a.py")
    window = agents.file_window(use, result)
    assert window is not None and window.text == "a = 1\n"


@pytest.mark.parametrize(
    "tool_call",
    [
        call("Read", {"file_path": "/r/a.py", "offset": 7}),
        call("exec_command", {"cmd": "sed -n '7,8p' a.py"}),
        call("str_replace_editor", {"command": "view", "path": "/r/a.py", "view_range": [7, 8]}),
        call("read_file", {"path": "a.py", "offset": 7}),
    ],
)
def test_a_read_answered_in_the_agents_shape_reads_back(tool_call: ToolCall) -> None:
    use = agents.tool_use(tool_call)
    agent = agents.get({"Read": "claude-code", "exec_command": "codex"}.get(tool_call.name, "chat"))
    window = agents.file_window(use, agent.shape_read(use, "x = 1\ny = 2\n"))
    assert window is not None and (window.text, window.first_line) == ("x = 1\ny = 2\n", 7)


def test_codexs_command_output_reads_back_without_its_preamble() -> None:
    shaped = agents.get("codex").shape_command("b = 2\n", 0)
    assert shaped.startswith("Process exited with code 0\n")
    assert agents.get("codex").unwrap_result(shaped) == "b = 2\n"


def test_a_failed_call_is_told_by_its_result() -> None:
    assert agents.failed("<tool_use_error>File does not exist.</tool_use_error>")
    assert agents.failed("Error: no such file")
    assert agents.failed("anything", is_error=True)
    assert not agents.failed("x = 1")

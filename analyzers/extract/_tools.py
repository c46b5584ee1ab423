"""Edits written through tool calls, read from the shape of the arguments rather than a list of
tool names, so that the same rule covers every agent (docs/wire-formats.md §2, §4):

* a patch anywhere (`*** Begin Patch`): Codex `apply_patch` as a custom tool (raw input), a
  function tool (`input`, `patch`, `patchText`), or a shell command (`cmd`, `command`, argv);
  the Responses API's `apply_patch_call` operations (`create_file`, `update_file`, ...);
* an editor command (`command`: create / str_replace / insert) with `path`: Anthropic's
  `str_replace_based_edit_tool`, OpenHands `str_replace_editor` / `file_editor`;
* a path plus an old/new pair (`old_string`/`new_string`, `oldString`/`newString`, `old_str`,
  `old_text`, `search`/`replace`...), a list of such pairs (`edits`), SEARCH/REPLACE blocks
  (`diff`), or whole content (`content`, `contents`, `file_text`, `new_text`...);
* a shell script that writes a file through a heredoc (`cat > f <<'EOF'`) or runs Python one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from redline.analyzers._model import CodeBlock, Edit, EditKind, Extraction, Unparsed
from redline.analyzers.extract._diffs import (
    excerpt,
    has_patch,
    has_search_replace,
    looks_like_udiff,
    parse_patch,
    parse_search_replace,
    parse_udiff,
)
from redline.analyzers.extract._json import Partial, decode_arguments, partial
from redline.analyzers.extract._language import from_path
from redline.transcripts import ToolCall
from redline.transcripts.agents import PATH_KEYS

_PAIRS = (
    ("old_string", "new_string"),
    ("oldString", "newString"),
    ("old_str", "new_str"),
    ("old_text", "new_text"),
    ("old_code", "new_code"),
    ("search", "replace"),
    ("find", "replace"),
)
_CONTENT_KEYS = (
    "content",
    "contents",
    "file_text",
    "new_content",
    "file_content",
    "code",
    "new_source",
    "new_text",
    "text",
)
_PATCH_KEYS = ("input", "patch", "patchText", "patch_text", "diff", "changes")
_SHELL_KEYS = ("command", "cmd", "commands", "script")
_EDITOR_COMMANDS = {"create", "str_replace", "insert", "view", "undo_edit", "delete"}
_PATCH_TOOLS = {"apply_patch", "applypatch"}
_EDIT_HINT = re.compile(r'"(?:file_path|filePath|path|old_string|new_string|content|file_text)"')
_CODE_HINT = re.compile(r'"(?:command|cmd|input|patch|new_str|old_str|edits)"')
# Keys whose value is the new code: a value cut short there is still the start of that code.
_NEW_CODE_KEYS = {
    *(new for _, new in _PAIRS),
    *_CONTENT_KEYS,
    *_PATCH_KEYS,
    *_SHELL_KEYS,
    "insert_text",
}


def from_call(call: ToolCall) -> Extraction:
    args = decode_arguments(call.arguments)
    origin = call.name or "tool"
    if isinstance(args, Mapping):
        return from_arguments(call.name, args)
    if isinstance(args, list) and all(isinstance(a, str) for a in args):
        return from_shell(_argv_script(args), origin)
    raw = call.arguments
    if args is None:
        cut = partial(raw)
        if cut is not None:
            return _from_partial(call.name, cut, raw)
    if has_patch(raw):
        return _extraction(parse_patch(raw, origin))
    if call.name in _PATCH_TOOLS and raw.strip():
        return Extraction(
            unparsed=(Unparsed(None, f"{origin} input without *** Begin Patch", excerpt(raw)),)
        )
    if looks_like_udiff(raw):
        return _extraction(parse_udiff(raw, origin))
    if has_search_replace(raw):
        edits, unparsed, _ = parse_search_replace(raw, None, origin)
        return _extraction((edits, unparsed))
    if args is None and _EDIT_HINT.search(raw):
        return Extraction(
            unparsed=(Unparsed(None, f"{origin} arguments are not valid JSON", excerpt(raw)),)
        )
    return Extraction()


def _from_partial(name: str, cut: Partial, raw: str) -> Extraction:
    """Arguments cut short (a length limit hit mid-call): what was completed, plus the code
    value being written at the cut, as truncated edits. A cut anywhere else (in a path, in the
    old side of a replacement) leaves nothing that can be judged soundly."""
    origin = name or "tool"
    args = cut.value
    named = [k for k in cut.cut or () if isinstance(k, str)]
    keep = bool(named) and named[-1] in _NEW_CODE_KEYS
    if cut.cut is not None and not keep:
        _drop(args, cut.cut)
    _drop_orphans(args)
    for item in args.get("edits") if isinstance(args.get("edits"), list) else ():
        if isinstance(item, dict):
            _drop_orphans(item)
    found = from_arguments(name, args)
    edits, blocks, unparsed = found.edits, found.blocks, found.unparsed
    if keep:  # the cut was in code being written: the last edit (or script) holds it
        if edits:
            edits = (*edits[:-1], dataclasses.replace(edits[-1], truncated=True))
        if blocks:
            blocks = (*blocks[:-1], dataclasses.replace(blocks[-1], truncated=True))
    if not edits and not blocks and (unparsed or _EDIT_HINT.search(raw) or _CODE_HINT.search(raw)):
        path = _first_str(args, PATH_KEYS)
        unparsed += (
            Unparsed(
                path[1] if path else None,
                f"{origin} arguments are cut off before any code that can be judged",
                excerpt(raw),
            ),
        )
    return Extraction(edits, blocks, unparsed)


def _drop(args: Any, path: tuple[str | int, ...]) -> None:
    for key in path[:-1]:
        args = args[key]
    if isinstance(args, dict):
        args.pop(path[-1], None)
    elif isinstance(args, list) and isinstance(path[-1], int) and path[-1] < len(args):
        args.pop(path[-1])


def _drop_orphans(args: dict[str, Any]) -> None:
    """An old side whose new side never arrived is no edit (not a deletion)."""
    for old, new in _PAIRS:
        if old in args and new not in args:
            del args[old]


def _extraction(parsed: tuple[list[Edit], list[Unparsed]]) -> Extraction:
    return Extraction(tuple(parsed[0]), (), tuple(parsed[1]))


def _first_str(args: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, str] | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str):
            return key, value
    return None


def from_arguments(name: str, args: Mapping[str, Any]) -> Extraction:
    origin = name or "tool"
    nested = args.get("operation")
    operation: Mapping[str, Any] = nested if isinstance(nested, Mapping) else args
    if operation.get("type") in ("create_file", "update_file", "delete_file") and isinstance(
        operation.get("path"), str
    ):
        return _operation(operation, origin)
    script = _shell_script(args)
    if script is not None:
        return from_shell(script, origin)
    found = _first_str(args, PATH_KEYS)
    path = found[1] if found else None
    for key in _PATCH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            extraction = _from_patch_value(key, value, path, origin)
            if extraction is not None:
                return extraction
    if path is None:
        return Extraction()
    language = "python" if found and found[0] == "notebook_path" else from_path(path)
    if isinstance(args.get("command"), str) and args["command"] in _EDITOR_COMMANDS:
        return _editor(args, path, language, origin)
    edits_list = args.get("edits")
    if isinstance(edits_list, list):
        return _multi(edits_list, path, language, origin)
    pair = _pair_edit(args, path, language, origin)
    if pair is not None:
        return Extraction((pair,))
    content = _first_str(args, _CONTENT_KEYS)
    if content is None:
        return Extraction()
    if found and found[0] == "notebook_path":
        return _notebook(args, path, content[1], origin)
    start = args.get("start")
    if isinstance(start, int) or isinstance(args.get("end"), int):  # OpenHands edit_file
        start_line = start if isinstance(start, int) and start > 0 else None
        return Extraction(
            (Edit(path, "", content[1], language, start_line=start_line, origin=origin),)
        )
    return Extraction((Edit(path, "", content[1], language, "write", origin=origin),))


def _from_patch_value(key: str, value: str, path: str | None, origin: str) -> Extraction | None:
    if has_patch(value):
        return _extraction(parse_patch(value, origin))
    if has_search_replace(value):
        edits, unparsed, _ = parse_search_replace(value, path, origin)
        return _extraction((edits, unparsed))
    if looks_like_udiff(value):
        return _extraction(parse_udiff(value, origin))
    if key == "changes" and path is not None:  # Continue edit_existing_file: a lazy sketch
        return Extraction((Edit(path, "", value, from_path(path), "lazy", origin=origin),))
    if key == "diff" and path is not None:
        return Extraction(
            unparsed=(
                Unparsed(path, f"{origin} diff holds no SEARCH/REPLACE block", excerpt(value)),
            )
        )
    if key in ("input", "patch", "patchText") and origin in _PATCH_TOOLS:
        return Extraction(
            unparsed=(Unparsed(path, f"{origin} input without *** Begin Patch", excerpt(value)),)
        )
    return None


def _replace_all(args: Mapping[str, Any]) -> bool:
    if any(args.get(k) is True for k in ("replace_all", "replaceAll", "allow_multiple")):
        return True
    expected = args.get("expected_replacements")
    return isinstance(expected, int) and expected > 1


def _pair_edit(
    args: Mapping[str, Any], path: str, language: str | None, origin: str
) -> Edit | None:
    for old_key, new_key in _PAIRS:
        old, new = args.get(old_key), args.get(new_key)
        if isinstance(old, str) and isinstance(new, str | None):
            new = new or ""
            if not old:  # opencode `edit` with an empty oldString writes a new file
                return Edit(path, "", new, language, "write", origin=origin)
            return Edit(path, old, new, language, replace_all=_replace_all(args), origin=origin)
        if old is None and isinstance(new, str) and old_key == "old_text":  # Cline `editor`
            line = args.get("insert_line")
            if isinstance(line, int):
                return Edit(path, "", new, language, "insert", start_line=line + 1, origin=origin)
            return Edit(path, "", new, language, "write", origin=origin)
    return None


def _editor(args: Mapping[str, Any], path: str, language: str | None, origin: str) -> Extraction:
    command = args["command"]
    if command == "create":
        text = args.get("file_text")
        if isinstance(text, str):
            return Extraction((Edit(path, "", text, language, "write", origin=origin),))
        return Extraction(unparsed=(Unparsed(path, f"{origin} create without file_text"),))
    if command == "str_replace":
        edit = _pair_edit(args, path, language, origin)
        if edit is not None:
            return Extraction((edit,))
        return Extraction(unparsed=(Unparsed(path, f"{origin} str_replace without old_str"),))
    if command == "insert":
        text = next(
            (args[k] for k in ("new_str", "insert_text", "text") if isinstance(args.get(k), str)),
            None,
        )
        line = args.get("insert_line")
        if isinstance(text, str):
            start = line + 1 if isinstance(line, int) and line >= 0 else None
            return Extraction(
                (Edit(path, "", text, language, "insert", start_line=start, origin=origin),)
            )
        return Extraction(unparsed=(Unparsed(path, f"{origin} insert without new_str"),))
    if command == "delete":
        return Extraction((Edit(path, "", "", language, "delete", origin=origin),))
    return Extraction()  # view, undo_edit


def _multi(items: list[Any], path: str, language: str | None, origin: str) -> Extraction:
    edits: list[Edit] = []
    unparsed: list[Unparsed] = []
    for n, item in enumerate(items, 1):
        edit = _pair_edit(item, path, language, origin) if isinstance(item, Mapping) else None
        if edit is None:
            unparsed.append(
                Unparsed(path, f"{origin} edit #{n} has no old/new strings", excerpt(str(item)))
            )
        else:
            edits.append(edit)
    return Extraction(tuple(edits), (), tuple(unparsed))


def _notebook(args: Mapping[str, Any], path: str, source: str, origin: str) -> Extraction:
    if args.get("edit_mode") == "delete":
        return Extraction()
    language = "markdown" if args.get("cell_type") == "markdown" else "python"
    kind: EditKind = "insert" if args.get("edit_mode") == "insert" else "replace"
    return Extraction((Edit(path, "", source, language, kind, origin=origin),))


def _operation(op: Mapping[str, Any], origin: str) -> Extraction:
    """The Responses API's `apply_patch_call.operation`: one file, with a V4A `diff` body."""
    path = op["path"]
    raw = op.get("diff")
    diff = raw if isinstance(raw, str) else ""
    kind = {"create_file": "Add File", "update_file": "Update File", "delete_file": "Delete File"}
    body = "" if op["type"] == "delete_file" else diff.rstrip("\n")
    if op["type"] == "create_file" and body and not body.lstrip("\n").startswith("+"):
        body = "\n".join("+" + line for line in body.split("\n"))
    patch = f"*** Begin Patch\n*** {kind[op['type']]}: {path}\n{body}\n*** End Patch\n"
    return _extraction(parse_patch(patch, origin))


# --- shell -------------------------------------------------------------------------------------


def _argv_script(argv: list[str]) -> str:
    if (
        len(argv) >= 3
        and argv[1] in ("-c", "-lc", "-ic")
        and argv[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh")
    ):
        return argv[2]
    return "\n".join(argv)  # ["apply_patch", "<patch>"]: the patch is found by its markers


def _shell_script(args: Mapping[str, Any]) -> str | None:
    action = args.get("action")
    if isinstance(action, Mapping):  # Responses shell_call / local_shell_call
        return _shell_script(action)
    for key in _SHELL_KEYS:
        value = args.get(key)
        if key == "command" and isinstance(value, str) and value in _EDITOR_COMMANDS:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n".join(value) if key == "commands" else _argv_script(value)
    return None


_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][\w.-]*)\2")
_REDIRECT = re.compile(r"(>>?)\s*(['\"]?)([^\s'\"<>|;&]+)\2")
_PYTHON = re.compile(r"(?:^|[\s;&|(])(?:python3?(?:\.\d+)?|uv run python)\s+-?\s*<<")


def from_shell(script: str, origin: str) -> Extraction:
    edits: list[Edit] = []
    unparsed: list[Unparsed] = []
    blocks: list[CodeBlock] = []
    if has_patch(script):
        e, u = parse_patch(script, "apply_patch")
        edits += e
        unparsed += u
    for line, body, closed in _heredocs(script):
        if "*** Begin Patch" in body:
            continue
        target = _heredoc_target(line)
        if target is not None:
            path, append = target
            if not closed:
                unparsed.append(
                    Unparsed(path, "a heredoc without its closing delimiter", excerpt(body))
                )
                continue
            kind: EditKind = "insert" if append else "write"
            edits.append(Edit(path, "", body, from_path(path), kind, origin=f"{origin} heredoc"))
        elif _PYTHON.search(line):
            blocks.append(CodeBlock(body, "python", None, f"{origin} heredoc"))
    return Extraction(tuple(edits), tuple(blocks), tuple(unparsed))


def _heredoc_target(line: str) -> tuple[str, bool] | None:
    if not re.search(r"(?:^|[\s;&|(])(?:cat|tee)\b", line):
        return None
    tee = re.search(r"\btee\s+(-a\s+)?(['\"]?)([^\s'\"<>|;&]+)\2", line)
    if tee:
        return tee.group(3), bool(tee.group(1))
    redirect = _REDIRECT.search(_HEREDOC.sub("", line))
    if redirect:
        return redirect.group(3), redirect.group(1) == ">>"
    return None


def _heredocs(script: str) -> list[tuple[str, str, bool]]:
    """(command line, body, closed) of each heredoc in a shell script."""
    lines = script.split("\n")
    out = []
    i = 0
    while i < len(lines):
        match = _HEREDOC.search(lines[i])
        if not match:
            i += 1
            continue
        strip_tabs, delimiter = bool(match.group(1)), match.group(3)
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            candidate = lines[j].lstrip("\t") if strip_tabs else lines[j]
            if candidate.rstrip() == delimiter:
                closed = True
                break
            body.append(candidate)
            j += 1
        out.append((lines[i], "\n".join(body) + ("\n" if body else ""), closed))
        i = j + 1
    return out

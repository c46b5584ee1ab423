"""aider (Chat Completions through litellm).

aider offers the model no tools: an answer's edits are text, in the edit format aider asked for
in its system prompt (`EDIT_FORMATS`; analyzers/extract parses them), and aider sends the files
in the chat as their path alone on a line followed by a fenced block of their content. It embeds
no rules file (a conventions file is one of those pasted files) and states no working
directory; it rebuilds its history every turn.
"""

from __future__ import annotations

from redline.transcripts.agents.agent import Agent, system_texts
from redline.transcripts.model import Request

# aider's `--edit-format`s whose edits extraction reads: SEARCH/REPLACE blocks with the path
# before the fence (`diff`) or inside it (`diff-fenced`), whole files after their path
# (`whole`), unified diffs without line numbers (`udiff`), and the apply_patch envelope
# (`patch`).
EDIT_FORMATS = ("diff", "diff-fenced", "whole", "udiff", "patch")

# Words of aider's system prompts for those formats.
_PROMPTS = ("SEARCH/REPLACE", "Act as an expert software developer")


class Aider(Agent):
    name = "aider"
    title = "aider"

    def recognises(self, request: Request) -> bool:
        if request.tools:
            return False
        return any(word in text for text in system_texts(request) for word in _PROMPTS)


AGENT = Aider()

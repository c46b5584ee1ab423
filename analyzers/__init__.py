"""Checks: code extraction from model outputs, the analyzers, and their registry.

    output (Message) ──extract──▶ Extraction: Edit, CodeBlock, Unparsed
                                     │ located in the files the request shows
                                     ▼
                                  Change ──▶ Analyzer.check(output, context) ──▶ Verdict, Finding
                                                                                   │ every check's
                                                                                   ▼
                                                      judgement: pass, fail or no_attempt

    Edit ──apply_edits──▶ a folder (a workspace's private copy); transcript_edits(request): the
                          edits a transcript made before its cut, that succeeded

Everything else in this package is internal; other parts use only these names, and checks
(built-in or plugin) these and `redline.analyzers.python`, the tools for reading Python.
`redline.analyzers.sandbox` runs commands on a workspace's copy, contained.
"""

from redline.analyzers._analyzer import Analyzer
from redline.analyzers._context import Change, Context
from redline.analyzers._inputs import Output, call_output, load_call, load_file
from redline.analyzers._judgement import JUDGEMENTS, Judgement, judgement, wrote_code
from redline.analyzers._model import (
    CodeBlock,
    Edit,
    Example,
    Extraction,
    Finding,
    Option,
    Unparsed,
    Verdict,
)
from redline.analyzers._options import describe as describe_option
from redline.analyzers._patterns import Pattern
from redline.analyzers._registry import ENTRY_POINT_GROUP, Registry, default_registry
from redline.analyzers._run import (
    Check,
    parse_check,
    run_checks,
    spec_name,
    verdict_from_dict,
    verdict_to_dict,
)
from redline.analyzers.apply import Unapplied, apply_edits, transcript_edits
from redline.analyzers.extract import decode_arguments, extract

__all__ = [
    "ENTRY_POINT_GROUP",
    "JUDGEMENTS",
    "Analyzer",
    "Change",
    "Check",
    "CodeBlock",
    "Context",
    "Edit",
    "Example",
    "Extraction",
    "Finding",
    "Judgement",
    "Option",
    "Output",
    "Pattern",
    "Registry",
    "Unapplied",
    "Unparsed",
    "Verdict",
    "apply_edits",
    "call_output",
    "decode_arguments",
    "default_registry",
    "describe_option",
    "extract",
    "judgement",
    "load_call",
    "load_file",
    "parse_check",
    "run_checks",
    "spec_name",
    "transcript_edits",
    "verdict_from_dict",
    "verdict_to_dict",
    "wrote_code",
]

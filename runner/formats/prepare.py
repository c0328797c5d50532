"""Preparing a recording for a replay: one function every entry point uses (the API's check of a new run,
the worker's replay, `reprise run`).

    script = prepare_script(json.loads(text), {"EMAIL": "ada@example.com"}, {"PASSWORD": value})

Variables and secrets are substituted into every string of the decoded recording (`${NAME}`), then it is
parsed in whichever format it is. An InvalidScript (an unknown variable, an invalid recording) never shows a
secret's value: its message is masked (`***`) before it leaves, since a substituted value can end up in the
field the parser quotes.
"""

from __future__ import annotations

from collections.abc import Mapping

from contract import limits
from runner.formats.errors import InvalidScript
from runner.formats.patterns import pattern_problem
from runner.formats.script import parse_script
from runner.formats.steps import Script, SetViewport
from runner.formats.variables import SecretMasker, substitute


def prepare_script(data: object, variables: Mapping[str, str], secrets: Mapping[str, str]) -> Script:
    """The recording `data` (decoded JSON) with `${NAME}` filled in from `variables` and `secrets` (a secret
    wins over a variable of the same name), parsed. InvalidScript names the field; no secret value appears in
    its message."""
    try:
        check_limits(data)  # before substituting: a document too deep must not reach the recursive walk
        values = {**variables, **secrets}
        substituted = substitute(data, values)
        if values:  # `${A}` may expand a short field past a limit (with no values nothing grows: checked once)
            check_limits(substituted)
        return check_script(parse_script(substituted))
    except InvalidScript as error:
        masker = SecretMasker(secrets.values())
        if not masker:
            raise
        raise InvalidScript(masker.mask(error.field), masker.mask(error.message)) from None


def parse_bounded(data: object) -> Script:
    """A recording as written (variables not substituted: a saved recording), parsed within the limits."""
    check_limits(data)
    return check_script(parse_script(data))


def check_limits(data: object) -> None:
    """InvalidScript naming the field when the decoded recording is nested too deep, holds a string too long
    or a NUL character, or is too large in all (contract/limits.py)."""
    problem = limits.json_problem(data)
    if problem is not None:
        raise InvalidScript(problem.field, problem.message)


def check_script(script: Script) -> Script:
    """The parsed recording within the limits every format shares: step count, name, viewports."""
    if len(script.steps) > limits.MAX_STEPS:
        raise InvalidScript("steps", f"has {len(script.steps):,} steps; the limit is {limits.MAX_STEPS:,}")
    problem = limits.text_problem(script.name, limits.MAX_NAME_CHARS)
    if problem:
        raise InvalidScript("name", f"(the recording's name, after substitution) {problem}")
    viewports = [(f"steps[{index}]", step.viewport) for index, step in enumerate(script.steps)
                 if isinstance(step, SetViewport)]
    if script.viewport is not None:
        viewports.append(("viewport", script.viewport))  # a native script's own; a Recorder's is also steps[0]
    for field, viewport in viewports:
        problem = limits.viewport_problem(viewport.width, viewport.height, viewport.device_scale_factor)
        if problem:
            raise InvalidScript(field, problem)
    for index, step in enumerate(script.steps):
        if getattr(step, "match", None) == "matches":
            for field in ("expected", "text", "url"):
                pattern = getattr(step, field, None)
                if isinstance(pattern, str):
                    problem = pattern_problem(pattern)
                    if problem:
                        raise InvalidScript(f"steps[{index}]", f"{field}: {problem}")
                    break
    return script

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

from runner.formats.errors import InvalidScript
from runner.formats.script import parse_script
from runner.formats.steps import Script
from runner.formats.variables import SecretMasker, substitute


def prepare_script(data: object, variables: Mapping[str, str], secrets: Mapping[str, str]) -> Script:
    """The recording `data` (decoded JSON) with `${NAME}` filled in from `variables` and `secrets` (a secret
    wins over a variable of the same name), parsed. InvalidScript names the field; no secret value appears in
    its message."""
    try:
        return parse_script(substitute(data, {**variables, **secrets}))
    except InvalidScript as error:
        masker = SecretMasker(secrets.values())
        if not masker:
            raise
        raise InvalidScript(masker.mask(error.field), masker.mask(error.message)) from None

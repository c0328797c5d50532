"""What a run request's recording must pass before a run is recorded for it: the API's `POST /api/runs` and the
worker taking a producer's job check it alike."""

from __future__ import annotations

from typing import Any

from contract.network import BlockedUrl, NetworkPolicy
from contract.options import RunOptions
from runner.formats.errors import InvalidScript
from runner.formats.prepare import prepare_script
from runner.formats.steps import CustomStep, Navigate, Script


def admit(script_data: dict[str, Any], options: RunOptions, network: NetworkPolicy) -> Script:
    """The recording as it will be replayed, checked as far as it can be without the secrets' values or DNS:
    InvalidScript names the field, BlockedUrl the navigation the network policy refuses."""
    # The secrets' values exist only on the workers: validate with stand-ins.
    script = prepare_script(script_data, options.variables, {secret: "secret" for secret in options.secrets})
    if options.strict_custom_steps:
        refuse_custom_steps(script)
    refuse_blocked_urls(script, options, network)
    return script


def refuse_custom_steps(script: Script) -> None:
    """InvalidScript naming the first `customStep` (asked for with `strictCustomSteps`)."""
    for index, step in enumerate(script.steps):
        if isinstance(step, CustomStep):
            raise InvalidScript(f"steps[{index}]", f"customStep {step.name!r} needs a Recorder extension, and "
                                                   "strictCustomSteps refuses it")


def refuse_blocked_urls(script: Script, options: RunOptions, network: NetworkPolicy) -> None:
    """BlockedUrl for the first navigation (or the base URL) whose host is a blocked IP literal, `localhost` or the
    API itself: known without DNS, so refused at once (names that resolve to blocked addresses, redirects and a
    page's own requests are the worker's egress proxy's to block)."""
    if options.base_url:
        problem = network.check_url(options.base_url)
        if problem:
            raise BlockedUrl("baseUrl", problem)
    for index, step in enumerate(script.steps):
        if not isinstance(step, Navigate):
            continue
        problem = network.check_url(step.url)
        if problem is None:
            continue
        if script.format == "saveaction":  # its actions are not one step each: name the start URL or the step
            field = "script.url" if index == 0 else "script"
        else:
            field = f"script.steps[{index}].url"
        raise BlockedUrl(field, f"step {index + 1} ({step.type}): {problem}")

"""Recording formats: Reprise's native scripts, Chrome Recorder recordings and SaveAction recordings, parsed
into one step model (`Script`). Pure: nothing here loads Playwright or touches a browser, a queue or a database.

    script = prepare_script(json.loads(text), variables, secrets)  # InvalidScript names the field
"""

from runner.formats.errors import InvalidScript, RunnerError
from runner.formats.native import native_json_schema, parse_native
from runner.formats.prepare import parse_bounded, prepare_script
from runner.formats.recorder import parse_recording
from runner.formats.saveaction import parse_saveaction
from runner.formats.script import detect_format, load_script_file, parse_script, read_script_json
from runner.formats.steps import ImportNote, Script, ScriptFormat, Step

__all__ = [
    "ImportNote",
    "InvalidScript",
    "RunnerError",
    "Script",
    "ScriptFormat",
    "Step",
    "detect_format",
    "load_script_file",
    "native_json_schema",
    "parse_bounded",
    "parse_native",
    "parse_recording",
    "parse_saveaction",
    "parse_script",
    "prepare_script",
    "read_script_json",
]

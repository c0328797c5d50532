"""Reprise's replayer: recording formats in, a browser replay out. Knows nothing of queues or databases.

Two layers, the lower one pure:

- `runner.formats`: the recording formats (native, Chrome Recorder, SaveAction) parsed into one step model,
  `${NAME}` variables and secrets, and `prepare_script`. Never loads Playwright, so the API can use it.
- `runner.replay`: the Playwright replay of a parsed script (`PlaywrightRunner`), and starting Chromium.

Nothing is imported here, so `import runner.formats` loads no browser driver.
"""

"""Step handlers by concern: each module maps its step classes to plain async functions
`(ctx, step, page, frame, timeout_ms, deadline) -> selector | None` in its `HANDLERS`; `runner.replay.registry`
joins them into the one mapping the executor looks steps up in."""

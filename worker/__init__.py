"""BullMQ workers that replay queued runs in Chromium and store the results."""

"""The contract every layer shares: run statuses and their transitions, run options, step and run results,
the device catalogue and the settings. Pure: no database, queue or browser is touched here."""

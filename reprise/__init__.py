"""Reprise: replay recorded browser tests at scale. Shared settings, logging and the CLI live here."""

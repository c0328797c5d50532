-- What importing the recording skipped or approximated (SaveAction actions with no equivalent, say).
ALTER TABLE runs ADD COLUMN import_warnings jsonb NOT NULL DEFAULT '[]'::jsonb;

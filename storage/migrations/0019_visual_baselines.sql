-- Visual comparison (issue 21): the approved baseline image of a saved recording's compared `screenshot` step,
-- one per (recording, step index, viewport key) (contract/visual.py). The image is a copy in the artifact store
-- (files/baselines/<recording>/...), not the run's artifact, so that retention of the run it came from never takes
-- it; `run_id` says which run's image was approved (null once that run is deleted).
CREATE TABLE visual_baselines (
    id bigserial PRIMARY KEY,
    recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    step_index integer NOT NULL CHECK (step_index >= 0),
    viewport_key text NOT NULL CHECK (viewport_key ~ '^[0-9]{1,5}x[0-9]{1,5}(@[0-9]+(\.[0-9]+)?)?$'),
    storage_key text NOT NULL,
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
    approved_by text,
    approved_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recording_id, step_index, viewport_key)
);

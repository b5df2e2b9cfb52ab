-- The Slack post is guarded by the file ID files.getUploadURLExternal hands out: it is
-- recorded in slack_file_id before files.completeUploadExternal, and slack_completed_at
-- says Slack accepted that completion. After any failure, files.info on the recorded ID
-- says whether the share exists; nothing is searched for, and nothing is uploaded twice.
ALTER TABLE dashboards ADD COLUMN slack_completed_at timestamptz;

-- A job's counts of events by kind and of log lines by level (JSON): the log filters' counts at a glance.
ALTER TABLE jobs ADD COLUMN counts TEXT;

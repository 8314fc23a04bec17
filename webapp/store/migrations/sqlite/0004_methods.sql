-- Every notification is kept: the JSON-RPC method of events whose kind does not imply it.
ALTER TABLE events ADD COLUMN method TEXT;

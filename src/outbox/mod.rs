//! Outbox dispatcher: claim, send, retry with backoff, dead letter, re-drive.

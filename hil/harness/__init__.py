"""The nightly harness: scenarios, driving a board through one (virtual or real clock), the
run's lifecycle and recovery, metrics and verdicts, results on disk."""

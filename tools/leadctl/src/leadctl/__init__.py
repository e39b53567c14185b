"""leadctl: the operator CLI (embedded run, replay, history, seal and verify, dead letters)."""

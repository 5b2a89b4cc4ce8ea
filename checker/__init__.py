"""The checking engines: search strategies, state store, traces, replay, reporting, CLI."""

"""Connectors: where samples come from (an OPC UA server; later, replayed files)."""

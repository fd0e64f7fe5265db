"""A built-in OPC UA line simulator: seeded process model, scenario faults, asyncua server."""

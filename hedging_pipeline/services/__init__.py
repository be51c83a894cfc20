"""Service layer: reads the warehouse, calls the pure domain, shapes results for the CLI and assets."""

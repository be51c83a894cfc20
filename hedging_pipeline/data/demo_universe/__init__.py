"""Parts of the demo universe generator; :mod:`hedging_pipeline.data.demo` is its entry point."""

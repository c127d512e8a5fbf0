"""The Typer layer: parse, call the Ray-facing layer, render. No ray import at module level."""

"""Recipes: declarative pipelines of wellread stages (schema, stage registry, runner, model card)."""

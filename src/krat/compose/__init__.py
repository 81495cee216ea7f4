"""Compose files: model, loader (interpolation, merge), plan (pure), apply through the engine."""

"""Dockerfile to image: parser, instructions, expansion, context, cache keys, builder."""

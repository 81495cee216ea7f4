"""One module per verb. Each defines `main(ctx, argv) -> int` and a one-line `HELP`.

The verb `foo-bar` lives in `foo_bar.py`; a verb that is a Python keyword gets a
trailing underscore (`import_.py`).
"""

"""The command-line front end: argument parsing, output, and THE place errors become exit codes.

One module per verb in krat.cli.commands, imported only when that verb runs (start-up
is the product: a bare `krat run` must not import the whole tree). Holds no logic that
another front end would need; that lives in engine/.
"""

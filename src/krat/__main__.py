from krat.cli.main import cli

cli()

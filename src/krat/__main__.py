from krat.cli.main import main

raise SystemExit(main())

"""Docker-compatible REST API server (krat system service). A front end: holds no engine logic."""

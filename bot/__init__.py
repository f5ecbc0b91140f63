"""intake311's acting half: settings, storage, channels, jobs, the Open311 client and the CLI."""

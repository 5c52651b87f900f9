"""Below everything: settings, errors, logging and metrics, AWS clients, secrets and key rings, bounded parsing."""

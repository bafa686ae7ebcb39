"""Till agent: offline-first selling with scanner, printer and drawer (issue 4)."""

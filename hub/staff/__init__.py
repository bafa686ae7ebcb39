"""Staff and access: users and roles, passwords, PINs, sessions, API tokens, login throttling."""

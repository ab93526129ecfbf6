"""HTTP plumbing every layer may use: errors, sessions, auth, CSRF, headers, input, rendering, URLs."""

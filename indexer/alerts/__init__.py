"""Alerting: rules, matching new articles, the sent ledger and the mailer, kept apart."""

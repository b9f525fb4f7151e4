"""Alerting: rules, matching new articles, the sent ledger and the mailer, kept apart.

``rules``     Rule model, YAML rules folder (``RuleSet``, re-read by mtime), validation errors naming file and key
``matching``  which enabled rules a batch matches: ES percolator when the cluster has it, else in-process
``ledger``    durable (rule, article) state: pending → sent, backoff, digests, rule versions, watermark
``ledger_rows``  the ledger's rows, their Message-IDs, the backoff
``ledger_digests``  the digests' life cycle: a period's items assigned, the digest sent or retried
``ledger_channels``  the channel dimension: one (rule, story, channel) delivery row per notify URL
``schedule``  digest boundaries (hourly / daily at a local time)
``render``    the mails as ``EmailMessage``: templates, escaping, header hygiene (highlighting: ``indexer.query``)
``mailer``    delivery: SMTP (none / starttls / ssl, login, timeouts) or .eml files in the outbox
``channels``  notify URLs through Apprise: checked, masked, the message of a story, one send
``deliveries``  one channel's due rows sent with the mail's retry policy; send-test per channel
``mail_deliveries``  the mail lane's due rows: instant mails and digests, sent, then marked sent once durable
``report``    what one pass matched, sent and failed (``Report``)
``worker``    ``DeliveryWorker``: a thread per channel (mail included), so nothing upstream waits
``engine``    ``AlertEngine``, the facade the daemon and the CLI use
"""

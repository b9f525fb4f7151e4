"""`mediawatch alerts list | test | send-test | backfill`: the rules the daemon alerts on (the config
file's and the rules folder's), what they match in the index, and their deliveries."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone

from scheduler.cli_search import note_operator_words, open_backend, out, parse_query, print_hits
from scheduler.config import Config, unknown_rule_sources
from scheduler.errors import EXIT_FAILURE, EXIT_OK, UsageError


def rule_set(cfg: Config):
    """The rules the daemon alerts on: the config file's and the rules folder's (``rules_dir``, where the
    web app saves them); a broken rule file is logged and left out, as the daemon leaves it out."""
    from indexer.alerts.rules import RuleSet

    return RuleSet(cfg.rules_dir, cfg.rules)


def _named_rule(cfg: Config, name: str):
    rules = rule_set(cfg)
    rule = rules.get(name)
    if rule is not None:
        return rule
    known = ", ".join(r.name for r in rules.rules()) or "none"
    raise UsageError(f"no rule named {name!r} (known rules: {known}); for an ad-hoc query use --query")


def cmd_alerts_list(cfg: Config, args) -> int:
    """Each rule the daemon alerts on, where it is defined and its last mail; then the rule files it
    rejects, with why."""
    from scheduler.app import open_ledger

    rules = rule_set(cfg)
    if not rules.rules() and not rules.errors:
        out("no rules: add one under `rules:` in the config file"
            + (f", as a YAML file in {cfg.rules_dir}" if cfg.rules_dir else "")
            + ", or on the web app's Rules page")
        return EXIT_OK
    with closing(open_ledger(cfg)) as ledger:
        last_sent = ledger.last_sent()
    rows = []
    for rule in rules.rules():
        at = last_sent.get(rule.name)
        rows.append((rule.name, rule.mode, "yes" if rule.enabled else "no", rules.origin(rule.name) or "config",
                     datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if at else "never",
                     rule.query))
    width = max([len("defined in")] + [len(r[3]) for r in rows])
    out(f"{'rule':<24} {'mode':<8} {'enabled':<7} {'defined in':<{width}} {'last mail (UTC)':<19}  query")
    for name, mode, enabled, origin, last, query in rows:
        out(f"{name:<24} {mode:<8} {enabled:<7} {origin:<{width}} {last:<19}  {query}")
    for warning in unknown_rule_sources(cfg, rules.rules()):
        out(f"warning: {warning}")
    for err in sorted(map(str, rules.errors.values())):
        out(f"rejected: {err}")
    return EXIT_OK


def cmd_alerts_test(cfg: Config, args) -> int:
    from indexer.alerts.rule_hits import by_story, rule_hits
    from indexer.alerts.rules import Rule

    if (args.rule is None) == (args.query is None):
        raise UsageError("alerts test takes a rule's name or --query QUERY (one of them)")
    if args.query is not None:
        parse_query(args.query)
        rule = Rule(name="adhoc", query=args.query)
    else:
        rule = _named_rule(cfg, args.rule)
    since = None if args.days is None else datetime.now(timezone.utc) - timedelta(days=args.days)
    backend = open_backend(cfg)
    try:
        hits = rule_hits(rule, backend, limit=args.limit, since=since)
    finally:
        backend.close()
    out(f"rule {rule.name}: {rule.query}")
    per_story = by_story(hits)
    print_hits(per_story, False)  # one line per story, as its mail: the copy first indexed, +N outlets
    window = "in the index" if args.days is None else f"in the last {args.days} day(s)"
    stories = len(per_story)
    mails = f"{stories} instant mail(s)" if rule.mode == "instant" else f"{stories} entries in {rule.mode} mails"
    more = " (--limit reached: there may be more)" if len(hits) >= args.limit else ""
    out(f"{len(hits)} matching article(s) {window}, {stories} stor(ies): would have caused {mails}{more}")
    note_operator_words(rule.query)
    return EXIT_OK


def cmd_alerts_send_test(cfg: Config, args) -> int:
    """A test message on every route of the rule: mail to its recipients, each notify channel; one
    line per route, exit 1 if any of them failed."""
    from scheduler.app import build

    rule = _named_rule(cfg, args.rule)
    if not rule.recipients and not rule.notify:
        raise UsageError(f"rule {rule.name} has no recipients and no notify channels")
    app = build(cfg)
    try:
        outcomes = app.alerts.send_tests(rule)
    finally:
        app.close()
    for outcome in outcomes:
        if outcome.channel == "mail":
            what = f"test email for rule {rule.name} to {', '.join(rule.recipients)}"
        else:
            what = f"test message for rule {rule.name} to {outcome.channel}"
        out(f"{'ok    ' if outcome.ok else 'FAILED'} {what}: {outcome.detail}")
    failed = sum(not o.ok for o in outcomes)
    out(f"{len(outcomes) - failed} of {len(outcomes)} route(s) accepted the test")
    return EXIT_OK if not failed else EXIT_FAILURE


def cmd_alerts_backfill(cfg: Config, args) -> int:
    from scheduler.app import build

    rules = rule_set(cfg)
    known = [r.name for r in rules.rules()]
    unknown = [n for n in args.rules if n not in known]
    if unknown:
        raise UsageError(f"unknown rule(s): {', '.join(unknown)} (known: {', '.join(known) or 'none'})")
    # the engine would leave it out: say so, rather than "0 matches"
    paused = [n for n in args.rules if not rules.get(n).enabled]
    if paused:
        raise UsageError(f"paused rule(s) (enabled: false): {', '.join(paused)}; enable them first")
    app = build(cfg)
    try:
        report = app.alerts.backfill(args.rules or None, limit=args.limit)
    finally:
        app.close()
    out(f"backfill: {report.matched} match(es), {report.enqueued} new alert(s), {report.mails} mail(s) sent"
        + (f", {report.messages} channel message(s) sent" if report.messages else ""))
    return EXIT_OK if not report.failed else EXIT_FAILURE

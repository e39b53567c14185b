"""The chaos run (``make chaos``): the operator's torture run, scripted.

The whole suite is started as ``make run`` starts it (the deployment's NATS users and
permissions, the three services as processes on SQLite), but in a directory of its own and
on free ports. Public reports arrive through intake at a steady rate, each retried with its
Idempotency-Key until it is accepted; meanwhile, at seeded random moments, each service is
killed with SIGKILL and started again, nats-server is killed and started again on the same
store and port, and the ledger's database is held under a write lock. Then the streams and
projections are counted: what was accepted, registered, missing, duplicated, parked, and
whether each live projection equals a fresh replay of the log.

``python -m leadctl.chaos --help``; the figures of a full run are in the README.
"""

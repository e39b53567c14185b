"""The ledger's read model (台账): one row per lead, its history and the units it went to."""

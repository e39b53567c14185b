"""The ledger's rules: what may happen to a lead in which state, and by whom."""

"""Backing up the system of record and bringing it back: every stream as a JetStream
snapshot (sequence numbers kept, so projection positions and hash chains still hold), the
tables of each service's database that no replay can rebuild (intake's identity keys above
all), every file encrypted to the operator's age key, and a manifest written last."""

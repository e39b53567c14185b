"""The discipline committee's decisions on a lead: cases, supervision, accountability."""

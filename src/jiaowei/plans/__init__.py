"""Plans: the year's key tasks through deploy, advance and assess; appraisals; the rectification
ledger; the risk register; and the evidence files they carry."""

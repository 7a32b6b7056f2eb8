"""Admissions: 公民同招, the publicly verifiable lottery, placement, and service places."""

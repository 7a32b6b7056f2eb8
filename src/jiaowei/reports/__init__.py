"""Reports: the annual work report, district reports and indicator bulletins generated from the data,
every figure linked to the analytics query that produced it."""

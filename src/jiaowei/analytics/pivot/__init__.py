"""The pivot table builder: an analytics grid laid out as rows × columns with totals, sorted, drilled
into, exported (CSV, XLSX) and charted; and the stored values behind one cell."""

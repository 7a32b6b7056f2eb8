"""Plans: appraisals."""

"""Applications to a campaign: who may apply and how they are read in.

:mod:`.reading` reads the applicants' CSV (header = row 1); :mod:`.age` is the campaign's age window
(childcare, 托育) that refuses applicants born outside it; :mod:`.tiers` are the priority tiers of the
private-school draw (set through the applicants' CSV or a priorities import, written into the frozen
pool's ``priorities.csv`` and so into the public proof bundle).
"""

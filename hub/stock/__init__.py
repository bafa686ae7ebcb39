"""The stock ledger: append-only movements, materialised levels and moving-average cost."""

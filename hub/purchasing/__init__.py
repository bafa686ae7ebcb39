"""Suppliers, purchase orders and the manual stock documents: receipts, counts, transfers,
write-offs."""

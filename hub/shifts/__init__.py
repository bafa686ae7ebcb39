"""Cashier shifts and cash-drawer events synced from the tills; X/Z figures and over/short."""

"""The till catalog feed: everything a store's tills need, changed since a cursor, paged."""

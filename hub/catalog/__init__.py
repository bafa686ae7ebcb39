"""Catalog: category tree, tax rates, products, barcodes, weighted templates, import/export."""

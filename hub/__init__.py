"""The hub: FastAPI service over SQLAlchemy 2 for catalog, stores, devices, staff and audit."""

"""Files: atomic result folders, provenance, writers, and the orchestrators that write a command's folder."""

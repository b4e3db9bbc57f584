"""The knowledge base: import files, chunk them, and find the passages for a question."""

"""Read a change: compare two versions of a repository and say what it does and how risky it is."""

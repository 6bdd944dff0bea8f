"""mlrecipes command line."""
